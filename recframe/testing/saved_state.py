"""The state round trip of the contract kit: a component's state written and read back as a saved model does.

:func:`round_trip_state` is what ``SimilarityContract`` and ``RankerContract`` check with, and
what a plugin author can call in their own tests of ``get_state`` and ``set_state``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TypeVar

import pytest

from recframe.artifacts.manifest import decode_state, encode_state
from recframe.artifacts.model_files import ArrayWriter
from recframe.artifacts.opened_folder import OpenedFolder
from recframe.interfaces import Component
from recframe.registry import describe_component

_C = TypeVar("_C", bound=Component)


def round_trip_state(component: _C) -> _C:
    """Return a new instance of `component`'s class and config given its state as a saved model would.

    The state is written exactly as ``Recommender.save`` writes it (arrays as ``.npy`` files
    without pickle, other values through JSON), read back read-only, and handed to
    ``set_state`` of a fresh instance. A component whose state can't be saved fails here with
    the :class:`~recframe.errors.PluginError` ``save`` would raise.
    """
    if type(component).get_state is Component.get_state and component.kind in ("similarity", "ranker"):
        pytest.fail(
            f"{type(component).__name__} is fitted but does not implement get_state() and set_state(), so a "
            "saved model could not restore it; see 'Saved models' in docs/plugins.md"
        )
    with tempfile.TemporaryDirectory() as folder:
        writer = ArrayWriter(Path(folder))
        encoded = encode_state(writer, describe_component(component), component.get_state())
        encoded = json.loads(json.dumps(encoded))
        with OpenedFolder(Path(folder)) as opened:
            opened.open_files(writer.files, checksums=True)
            state = decode_state(opened, encoded, writer.files, {}, mmap=False)
        restored = type(component)(component.config)
        restored.set_state(state)
    return restored
