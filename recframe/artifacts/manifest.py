"""A saved model's ``manifest.json``: its format version, its components, and their encoded state.

The manifest records the format version, the recframe version that wrote it, the resolved run
config (secrets masked), every component's role, kind, registered type, plugin distribution
and version and config, each component's state (arrays by file, other values inline as JSON),
the training data's fingerprint, and the size and sha256 of every file. Loading reads it with
:mod:`json` only and looks components up by their registered names: nothing named by the
folder is imported or run.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe._version import __version__
from recframe.artifacts.model_files import (
    FORMAT_NAME,
    MANIFEST,
    ArrayWriter,
    ModelFileError,
    check_array,
)
from recframe.artifacts.opened_folder import OpenedFolder, read_whole
from recframe.errors import ConfigError, PluginError, RecframeWarning

if TYPE_CHECKING:
    from recframe.interfaces import Component, State
    from recframe.registry import PluginRegistry

FORMAT_VERSION = 1
"""The model format this recframe writes; it reads every version up to this one."""


class ModelVersionWarning(RecframeWarning):
    """A saved model was written with another version of a plugin than the one installed."""


class TemplatesLeftOutWarning(RecframeWarning):
    """Components set since the fit (``rec.ranker = ...``) could not be saved with a model, or restored from it.

    The model itself is saved and loaded whole; its next update uses the components that made it.
    """


def encode_state(writer: ArrayWriter, who: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """Return a component's state as manifest entries, writing its arrays with `writer`.

    Raises
    ------
    PluginError
        If the state is not a dict of str to arrays and JSON values; `who` names the role
        and the component.
    """
    if not isinstance(state, Mapping):
        msg = f"{who}: get_state() returned a {type(state).__name__}; return a dict of names to arrays or JSON values"
        raise PluginError(msg)
    encoded: dict[str, Any] = {}
    for name, value in state.items():
        if not isinstance(name, str):
            msg = f"{who}: state entry names must be text; got {name!r}"
            raise PluginError(msg)
        if isinstance(value, np.ndarray):
            check_array(value, lambda name=name: f"{who}: state entry {name!r}")  # type: ignore[misc]
            encoded[name] = {
                "array": writer.write(name, value),
                "shape": list(value.shape),
                "dtype": value.dtype.str,
            }
            continue
        try:
            text = json.dumps(_plain(value), allow_nan=False)
        except (TypeError, ValueError) as exc:
            msg = (
                f"{who}: state entry {name!r} is a {type(value).__name__}, neither a numpy array nor a JSON "
                f"value ({exc}); this component can't be saved: its get_state() must return arrays and JSON values"
            )
            raise PluginError(msg) from exc
        encoded[name] = {"json": json.loads(text)}
    return encoded


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones; anything else JSON can't hold stays for ``json`` to refuse."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{value!r} is not finite; JSON holds finite numbers only (store it in an array)"
        raise ValueError(msg)
    return value


def decode_state(
    folder: OpenedFolder, encoded: Any, files: Mapping[str, Any], cache: dict[str, np.ndarray], *, mmap: bool
) -> State:
    """Return the state the manifest `encoded`, arrays read once each from `folder`'s open files (through `cache`).

    Raises
    ------
    ModelFileError
        If an entry is malformed or names a file the manifest does not list.
    """
    path = folder.path
    if not isinstance(encoded, dict):
        msg = f"{path / MANIFEST}: a component's state is not an object; the manifest was altered"
        raise ModelFileError(msg)
    state: State = {}
    for name, entry in encoded.items():
        if isinstance(entry, dict) and set(entry) == {"json"}:
            state[name] = entry["json"]
        elif isinstance(entry, dict) and "array" in entry:
            relative = manifest_field(path, entry, "array", str, f"state entry {name!r}")
            if relative not in files:
                msg = f"{path / MANIFEST}: state entry {name!r} names {relative!r}, a file it does not list"
                raise ModelFileError(msg)
            manifest_field(path, entry, "shape", _is_shape, f"state entry {name!r}")
            manifest_field(path, entry, "dtype", str, f"state entry {name!r}")
            if relative not in cache:
                cache[relative] = folder.read_array(relative, entry, mmap=mmap)
            array = cache[relative]
            if list(array.shape) != entry.get("shape") or array.dtype.str != entry.get("dtype"):
                msg = (
                    f"{path / relative}: state entry {name!r} expects another shape or dtype; the manifest was altered"
                )
                raise ModelFileError(msg)
            state[name] = array
        else:
            msg = f"{path / MANIFEST}: state entry {name!r} is malformed; the manifest was altered"
            raise ModelFileError(msg)
    return state


def _is_shape(value: Any) -> bool:
    """Return whether `value` is an array shape: a list of whole numbers >= 0."""
    return isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)


def manifest_field(
    path: Path, mapping: Mapping[str, Any], key: str, check: type | Callable[[Any], bool], where: str
) -> Any:
    """Return ``mapping[key]`` of the manifest if it is of the expected type; the one check of manifest values.

    Parameters
    ----------
    path : Path
        The model folder.
    mapping : mapping
        The manifest object holding the value.
    key : str
        The key read.
    check : type or callable
        The type the value must have (``int`` excludes ``bool``), or a predicate.
    where : str
        What holds `key`, for the message (``"data"``, ``"state entry 'x'"``).

    Raises
    ------
    ModelFileError
        Naming the manifest file and the key, if the value is missing or of another type.
    """
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    if isinstance(check, type):
        valid = isinstance(value, check) and not (check in (int, float) and isinstance(value, bool))
        if check is float and isinstance(value, int) and not isinstance(value, bool):
            valid = True
        expected = check.__name__
    else:
        valid = bool(check(value))
        expected = (check.__doc__ or check.__name__).split(":")[-1].strip().rstrip(".")
    if not valid:
        msg = f"{path / MANIFEST}: {where}: {key!r} is {value!r}, not {expected}; the manifest was altered"
        raise ModelFileError(msg)
    return value


def component_record(role: str, component: Component, registry: PluginRegistry) -> dict[str, Any]:
    """Return what the manifest says of one component: role, kind, type, plugin, version and config.

    Raises
    ------
    PluginError
        If the component's class is not the one registered under its name: a saved model
        names components by their registered type, so an unregistered one could not be loaded.
    """
    cls = type(component)
    try:
        entry = registry.entry(cls.kind, cls.name)
    except (ConfigError, AttributeError):
        entry = None
    if entry is None or entry.cls is not cls:
        msg = (
            f"{role}: {registry.describe(component)} is not a registered component, so a saved model could not "
            f"find it again; register it through a plugin (the recframe_register_components hook) to save it"
        )
        raise PluginError(msg)
    return {
        "role": role,
        "kind": cls.kind,
        "type": cls.name,
        "plugin": entry.plugin.name,
        "distribution": entry.plugin.package,
        "version": entry.plugin.version,
        "config": component.config.model_dump(mode="json"),
    }


def component_class(
    path: Path, record: Mapping[str, Any], registry: PluginRegistry, warned: set[str] | None = None
) -> type[Component]:
    """Return the installed class of a saved component, by its registered kind and type.

    A different installed version of its plugin gives a :class:`ModelVersionWarning`, once per
    distribution named in `warned` (the distributions warned about so far in one load: a plugin
    providing three components of a model warns once, even where warnings are always shown).

    Raises
    ------
    ModelFileError
        If no installed plugin registers it: the message names the distribution to install.
    """
    kind, name = record.get("kind"), record.get("type")
    distribution, version = record.get("distribution"), record.get("version")
    role = record.get("role")
    if not isinstance(kind, str) or not isinstance(name, str):
        msg = f"{path / MANIFEST}: component {role!r} has no kind or type; the manifest was altered"
        raise ModelFileError(msg)
    try:
        entry = registry.entry(kind, name)
    except ConfigError:
        why = registry.why_not_loaded(distribution, repr(name)) if isinstance(distribution, str) else None
        if why is not None:  # installed, but failed to load or disabled: installing it again would not help
            msg = f"{path}: {role} needs {kind} {name!r} from {distribution} {version}; {why}"
            raise ModelFileError(msg) from None
        msg = (
            f"{path}: {role} needs {kind} {name!r} from {distribution} {version}, which no installed plugin "
            f"registers (`recframe plugins` lists what loaded, and why a plugin failed); pip install {distribution}"
        )
        raise ModelFileError(msg) from None
    installed = entry.plugin
    if (installed.package != distribution or installed.version != version) and (
        warned is None or str(distribution) not in warned
    ):
        if warned is not None:
            warned.add(str(distribution))
        warnings.warn(
            f"{path}: saved with {distribution} {version}; {installed} is installed, so the components it "
            "provides may answer differently from the saved model",
            ModelVersionWarning,
            stacklevel=3,
        )
    return entry.cls


def check_format(path: Path, manifest: Any) -> dict[str, Any]:
    """Return the manifest if this recframe can read its format.

    Raises
    ------
    ModelFileError
        If it is not a model manifest, or its format is newer than :data:`FORMAT_VERSION`.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        msg = f"{path / MANIFEST}: not the manifest of a saved recframe model"
        raise ModelFileError(msg)
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        msg = f"{path / MANIFEST}: format_version {version!r} is not a positive whole number; the manifest was altered"
        raise ModelFileError(msg)
    if version > FORMAT_VERSION:
        msg = (
            f"{path}: saved in model format {version} by recframe {manifest.get('recframe_version')}; this recframe "
            f"({__version__}) reads formats up to {FORMAT_VERSION}; upgrade recframe to load it"
        )
        raise ModelFileError(msg)
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check ``manifest.json`` of the model folder `path` (with :mod:`json` only).

    Raises
    ------
    ModelFileError
        If the folder or the manifest is missing or unreadable, or its format too new.
    """
    path = Path(path)
    return read_whole(path, lambda folder: check_format(path, folder.manifest()), "its manifest was being read")
