"""The base of every settings model of a run file, and the checks it applies to raw values.

:class:`SettingsModel` is what component configs and the run's own sections derive from:
unknown keys are refused, values are immutable, numbers finite and within ``int64``, and path
fields checked and ``~``-expanded. The limits (:data:`MAX_LIST_LENGTH`, :data:`MAX_PATH_LENGTH`)
live here so that the config loader, the CLI and the components share them.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from recframe.errors import short_repr
from recframe.secrets import mask_secret_names

INT64_MAX = 2**63 - 1
"""Largest integer any component parameter may hold (numpy's int64)."""
MAX_LIST_LENGTH = 10_000
"""Longest recommendation list a ranker's ``n`` or a metric's ``k`` may ask for."""


MAX_PATH_LENGTH = 4096
"""Longest path a config field typed :class:`~pathlib.Path` may hold (Linux's ``PATH_MAX``)."""


def path_text_problem(text: str) -> str | None:
    """Return why `text` can't be a path (empty, a NUL character, too long), or ``None`` if it can."""
    if not text.strip():
        return f"the path {short_repr(text)} is empty; give a file or folder name (. for the current folder)"
    if "\0" in text:
        return f"{short_repr(text)} contains a NUL character (\\0), which no path can hold"
    if len(text) > MAX_PATH_LENGTH:
        return f"{short_repr(text)} is {len(text)} characters long; a path may have at most {MAX_PATH_LENGTH}"
    return None


def expand_home(path: PurePath) -> PurePath:
    """Return `path` with a leading ``~`` or ``~user`` replaced by that home folder.

    Raises
    ------
    ValueError
        If the home folder is not known (no such user, or no ``HOME``).
    """
    text = str(path)
    if not text.startswith("~"):
        return path
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = text[1:].split("/", 1)[0] or "the current user"
        msg = f"{short_repr(text)} starts with ~, and no home folder is known for {user}"
        raise ValueError(msg)
    return type(path)(expanded)


def _branches(annotation: object) -> list[object]:
    """Return the types a field annotation accepts: unions flattened, ``Annotated`` unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _branches(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [branch for arg in get_args(annotation) for branch in _branches(arg)]
    return [annotation]


def _is_type(branch: object, *classes: type) -> bool:
    return isinstance(branch, type) and issubclass(branch, classes)


_SEQUENCES = (list, tuple, set, frozenset)


def _input_problem(annotation: object, value: object, depth: int = 0) -> str | None:
    """Return why a raw `value` does not fit `annotation` in a way pydantic would let through.

    Pydantic's lax mode takes ``true`` for ``1`` and any text for a path; a run file means
    neither. Looks into lists, tuples and mappings of the annotation (a few levels deep).
    """
    branches = _branches(annotation)
    if any(branch is Any or branch is object for branch in branches):
        return None
    if isinstance(value, bool):
        if any(_is_type(b, bool) or (get_origin(b) is Literal and value in get_args(b)) for b in branches):
            return None
        numbers = [b for b in branches if _is_type(b, int, float)]
        if not numbers:
            return None
        what = "a number" if any(_is_type(b, float) for b in numbers) else "an integer"
        return f"must be {what}, not a boolean; got {'true' if value else 'false'}"
    if isinstance(value, str):
        if any(_is_type(b, PurePath) for b in branches) and not any(_is_type(b, str) for b in branches):
            return path_text_problem(value)
        return None
    if depth >= 3:
        return None
    for branch in branches:
        origin, args = get_origin(branch), get_args(branch)
        if isinstance(value, list | tuple) and _is_type(origin, *_SEQUENCES) and args:
            for i, item in enumerate(value):
                item_type = args[0] if origin is not tuple or args[-1] is ... else args[min(i, len(args) - 1)]
                problem = _input_problem(item_type, item, depth + 1)
                if problem is not None:
                    return f"entry {i}: {problem}"
        elif isinstance(value, Mapping) and _is_type(origin, dict, Mapping) and len(args) == 2:
            for key, item in value.items():
                problem = _input_problem(args[1], item, depth + 1)
                if problem is not None:
                    return f"entry {short_repr(key)}: {problem}"
    return None


def _mentions_path(annotation: object, depth: int = 0) -> bool:
    """Say whether a field annotation holds a path anywhere (a few levels of containers deep)."""
    return depth < 4 and any(
        _is_type(branch, PurePath) or any(_mentions_path(arg, depth + 1) for arg in get_args(branch))
        for branch in _branches(annotation)
    )


def _expand_paths(value: object, depth: int = 0) -> object:
    """Return `value` with ``~`` expanded in every path in it (a few levels of lists deep)."""
    if isinstance(value, PurePath):
        return expand_home(value)
    if depth < 3 and isinstance(value, list | tuple):
        return type(value)(_expand_paths(item, depth + 1) for item in value)
    if depth < 3 and isinstance(value, dict):
        return {key: _expand_paths(item, depth + 1) for key, item in value.items()}
    return value


class SettingsModel(BaseModel):
    """Base class of every settings model of a run file: component configs and the run's own sections.

    Unknown keys are rejected, instances are immutable, floats must be finite (``nan`` and
    ``inf`` are refused), integers fit numpy's int64, a number field refuses ``true``/``false``,
    and a path field refuses empty text, NUL characters and more than :data:`MAX_PATH_LENGTH`
    characters, and expands a leading ``~`` to the home folder.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _mask_secret_names(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Mask, in JSON dumps (config.yaml, run.json, report.html), text fields named like a credential."""
        data = handler(self)
        return mask_secret_names(data) if info.mode_is_json() and isinstance(data, dict) else data

    @field_validator("*", mode="before")
    @classmethod
    def _strict_input(cls, value: object, info: ValidationInfo) -> object:
        """Refuse booleans in number fields and unusable text in path fields, before pydantic converts them."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            problem = _input_problem(field.annotation, value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _int64(cls, value: object, info: ValidationInfo) -> object:
        """Refuse an integer that numpy can't hold (beyond int64), whatever the field's bounds; expand ``~``."""
        if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX <= value <= INT64_MAX:
            msg = f"{short_repr(value)} is too large; integers must be within +-{INT64_MAX}"
            raise ValueError(msg)
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _mentions_path(field.annotation):
            return _expand_paths(value)
        return value
