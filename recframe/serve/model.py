"""The model a service answers from, and the one reference that swaps it atomically.

A :class:`ServedModel` is a fitted :class:`~recframe.Recommender` with everything a request
would otherwise look up again: the id types of both axes, which call-time options the model's
methods accept, and the metadata of ``GET /model``. A :class:`ModelHolder` keeps the current
one. ``reload`` builds the next :class:`ServedModel` completely (load, metadata) before it
replaces the single reference, so a request that took the old one answers wholly from it and
none ever sees a half-loaded model; ``change`` (``POST /update`` and ``/forget``) changes the
recommender (which publishes its new state atomically) and swaps in a :class:`ServedModel` with the
changed model's metadata the same way. A save of a change (``"save": true``) holds
:func:`~recframe.artifacts.model_lock.model_lock` and is refused if another process saved
another model into the folder since this service loaded it or last saved it there, so that it
never undoes that process's change. Nothing here imports the web framework.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recframe._version import __version__
from recframe.artifacts import model_in, model_lock, read_manifest
from recframe.engine import warm_up
from recframe.errors import ConfigError, RecframeError
from recframe.recommender import Recommender
from recframe.recommender.lineage import changes_in
from recframe.registry import describe_component

logger = logging.getLogger(__name__)

CALL_OPTIONS = ("exclude", "candidates", "exclude_seen", "fill_short")
"""The call-time options a request may give; passed on where the model's method accepts them."""

Loader = Callable[[Path], Recommender]
"""Loads a fitted recommender from a model folder."""


def model_folder(path: str | Path) -> Path:
    """Return the model folder of `path`: a run folder's ``model/`` subfolder, or `path` itself.

    Raises
    ------
    ConfigError
        If `path` is not a folder.
    ModelFileError
        If `path` is a run folder without ``model/`` (:func:`~recframe.artifacts.model_in`).
    """
    folder = Path(path)
    if not folder.is_dir():
        msg = f"{str(path)!r} is not a folder; give a run folder or a model folder written by Recommender.save"
        raise ConfigError(msg)
    return model_in(folder)


def load_recommender(path: Path) -> Recommender:
    """Load a saved recommender memory-mapped, so that several workers share its pages.

    The compiled engine is started too (:func:`recframe.engine.warm_up`), so that the first
    request does not wait for it.

    Raises
    ------
    ModelFileError
        If the folder is not a saved model, or a file is missing or altered (see
        :meth:`Recommender.load <recframe.Recommender.load>`).
    """
    rec = Recommender.load(path, mmap=True)
    warm_up()
    return rec


def _accepted(method: Callable[..., Any]) -> frozenset[str]:
    """Return the call-time options `method` takes as keyword arguments."""
    parameters = inspect.signature(method).parameters
    return frozenset(name for name in CALL_OPTIONS if name in parameters)


def saved_identity(rec: Recommender) -> str | None:
    """Return what tells the save `rec` was loaded from (or last written to) from any other, or ``None``.

    Its save id; for a model saved before recframe wrote ids, its data fingerprint (which a
    refit of the same data shares, but nothing else does).
    """
    if rec.save_id is not None:
        return rec.save_id
    return f"data:{rec.data_fingerprint}" if rec.data_fingerprint else None


def _identity_in(manifest: Mapping[str, Any]) -> str | None:
    """Return what :func:`saved_identity` gives for the model whose manifest is `manifest`."""
    save_id = manifest.get("save_id")
    if isinstance(save_id, str):
        return save_id
    data = manifest.get("data")
    fingerprint = data.get("fingerprint") if isinstance(data, dict) else None
    return f"data:{fingerprint}" if isinstance(fingerprint, str) and fingerprint else None


def _metadata(rec: Recommender, path: Path | None, saved_id: str | None) -> dict[str, Any]:
    """Return what ``GET /model`` shows: config, components, fingerprint, times, versions, updates.

    For a model loaded from a folder the config, components (with their plugin distribution
    and version) and ``saved_at`` come from its ``manifest.json``; for a recommender passed in,
    or where the folder holds another save than `saved_id` (another process saved there since
    this service loaded or saved its model), from the object.
    """
    saved = path is not None and (path / "manifest.json").is_file()
    manifest: dict[str, Any] = read_manifest(path) if saved and path is not None else {}
    if saved_id is not None and _identity_in(manifest) != saved_id:  # not the folder's model
        saved, manifest = False, {}
    config = manifest.get("config")
    if not saved:
        try:
            config = rec.to_config()
        except RecframeError:  # a user's own, unregistered component: no run config describes it
            config = None
    records = manifest.get("components")
    if isinstance(records, list):
        components = [
            {k: v for k, v in r.items() if k not in ("state", "config")} for r in records if isinstance(r, dict)
        ]
    else:
        roles: list[tuple[str, Any]] = [
            ("matrix", rec.matrix),
            ("similarity", rec.similarity),
            ("ranker", rec.ranker),
            *((f"ranker.fallback[{i}]", f) for i, f in enumerate(rec.fallbacks)),
        ]
        components = [
            {"role": role, "kind": c.kind, "type": c.name, "plugin": describe_component(c)} for role, c in roles
        ]
    matrix = rec.interaction_matrix
    lineage = rec.lineage
    return {
        "name": rec.name,
        "path": None if path is None else str(path),
        "recframe_version": __version__,
        "saved_by_recframe_version": manifest.get("recframe_version"),
        "format_version": manifest.get("format_version"),
        "fingerprint": rec.data_fingerprint,
        "saved_at": manifest.get("saved_at"),
        "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_users": matrix.n_users,
        "n_items": matrix.n_items,
        "user_ids": "str" if matrix.users.is_str else "int",
        "item_ids": "str" if matrix.items.is_str else "int",
        "components": components,
        "config": config,
        "updates": changes_in(lineage),
        "last_update": lineage[-1] if len(lineage) > 1 else None,
    }


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A fitted recommender and what requests need of it, computed once when it is loaded.

    Attributes
    ----------
    recommender : Recommender
        Fitted; only read by requests.
    path : Path or None
        The model folder it was loaded from (``None`` for an object passed in).
    user_str, item_str : bool
        Whether the user and item ids are strings (else integers).
    default_n : int
        The ranker's list length, used when a request gives no ``n``.
    options : mapping of str to frozenset of str
        The call-time options (``exclude``, ``candidates``, ``exclude_seen``, ``fill_short``) each query
        method accepts: ``recommend``, ``similar_items``, ``similar_users``.
    metadata : dict
        The body of ``GET /model``.
    saved_id : str or None
        What tells the model in the folder `path` when this service loaded it or last saved it
        there (:func:`saved_identity`: its save id) from any other save; ``None``: no folder, or
        not known. A save is refused if the folder holds another save by then: another process
        saved it, and saving over it would undo its change.
    """

    recommender: Recommender
    path: Path | None
    user_str: bool
    item_str: bool
    default_n: int
    options: Mapping[str, frozenset[str]]
    metadata: dict[str, Any] = field(repr=False)
    saved_id: str | None = None

    @classmethod
    def of(cls, rec: Recommender, path: Path | None = None, *, saved_id: str | None = None) -> ServedModel:
        """Wrap a fitted recommender.

        Parameters
        ----------
        rec : Recommender
            Fitted.
        path : Path, optional
            The model folder it was loaded from, or changed from.
        saved_id : str, optional
            The :func:`saved_identity` of the model in `path` as this service last knew it: `rec`'s
            own right after a load or a save, the same as before after a change not saved.

        Raises
        ------
        NotFittedError
            If `rec` is not fitted.
        """
        matrix = rec.interaction_matrix  # raises NotFittedError for an unfitted recommender
        options = {name: _accepted(getattr(rec, name)) for name in ("recommend", "similar_items", "similar_users")}
        return cls(
            recommender=rec,
            path=path,
            user_str=matrix.users.is_str,
            item_str=matrix.items.is_str,
            default_n=int(rec.fitted_ranker.config.n),  # what recommend() takes, not the template for the next fit
            options=options,
            metadata=_metadata(rec, path, saved_id),
            saved_id=saved_id,
        )


SAVE_WAIT_SECONDS = 60.0
"""How long a save of a change waits for a ``recframe update`` or ``forget`` holding the folder's lock
(meanwhile other changes and reloads wait too); past it the change is served but not saved."""


class UnsavedChangeError(RecframeError):
    """A change was made and is served, but the changed model could not be saved in its folder."""


class ConcurrentChangeError(RecframeError):
    """The model folder holds another model than the one the service loaded or last saved there.

    Raised by a save of :meth:`ModelHolder.change`, whose :class:`UnsavedChangeError` gives it as the reason.
    """


class ModelHolder:
    """The current :class:`ServedModel` of a service; :meth:`reload` and :meth:`change` swap it atomically.

    Parameters
    ----------
    model : ServedModel
        The first model.
    loader : callable, optional
        ``loader(folder) -> Recommender``; :func:`load_recommender` (memory-mapped) by default.

    Notes
    -----
    A request reads :attr:`current` once and uses that object to the end, so a reload never
    changes a model under a request. Reloads and changes are serialised; while one runs, requests
    keep being answered from the old model.
    """

    def __init__(self, model: ServedModel, loader: Loader | None = None) -> None:
        self.current = model
        self._loader: Loader = loader if loader is not None else load_recommender
        self._reloading = threading.Lock()

    @classmethod
    def from_path(cls, path: str | Path, loader: Loader | None = None) -> ModelHolder:
        """Load the model of a run or model folder (see :func:`model_folder`)."""
        folder = model_folder(path)
        load = loader if loader is not None else load_recommender
        rec = load(folder)
        return cls(ServedModel.of(rec, folder, saved_id=saved_identity(rec)), loader)

    def reload(self, path: str | Path | None = None) -> ServedModel:
        """Load a model (from `path`, else the current model's folder) and make it current.

        The new model is loaded and wrapped completely before the reference is replaced.

        Raises
        ------
        ConfigError
            If no path is given and the current model was not loaded from a folder, or the
            path is not a folder.
        RecframeError
            Whatever loading raises; the current model stays.
        """
        with self._reloading:
            if path is None:
                if self.current.path is None:
                    msg = "path: this service's model was not loaded from a folder; give the folder to load"
                    raise ConfigError(msg)
                folder = self.current.path
            else:
                folder = model_folder(path)
            start = time.perf_counter()
            rec = self._loader(folder)
            served = ServedModel.of(rec, folder, saved_id=saved_identity(rec))
            self.current = served
            logger.info("reloaded the model from %s in %.2fs", folder, time.perf_counter() - start)
            return served

    def change(self, apply: Callable[[ServedModel], object], *, save: bool = False) -> ServedModel:
        """Change the current model with `apply` (an update or a forget) and make the result current.

        Changes and reloads run one at a time. `apply` gets the current :class:`ServedModel` and
        changes its recommender (``update`` and ``forget`` publish their new state atomically, so
        requests keep being answered, from the old state or the new); then a new
        :class:`ServedModel`, with metadata of the changed model, replaces the reference.

        Parameters
        ----------
        apply : callable
            ``apply(current)``; it raises, and nothing changes, if the change can't be made.
        save : bool
            Also save the changed model over the current model's folder (atomically, with its
            training data), so that a restart or a reload serves it. The save holds
            :func:`~recframe.artifacts.model_lock.model_lock` on the folder, and is refused if the
            folder holds another model than the one this service loaded or last saved there.

        Returns
        -------
        ServedModel
            The new current model.

        Raises
        ------
        ConfigError
            If `save` is asked but the current model was not loaded from a folder (nothing changes).
        UnsavedChangeError
            If the change was made and is served, but the model could not be saved, or was not
            because another process saved another model into the folder meanwhile.
        RecframeError
            Whatever `apply` raises (nothing changes).
        """
        with self._reloading:
            current = self.current
            if save and current.path is None:
                msg = "save: this service's model was not loaded from a folder, so there is none to save it in"
                raise ConfigError(msg)
            start = time.perf_counter()
            apply(current)
            rec = current.recommender
            failure: RecframeError | None = None
            saved = current.saved_id
            if save:
                assert current.path is not None
                try:
                    saved = _save_over(rec, current.path, current.saved_id)
                except RecframeError as exc:
                    failure = exc
            self.current = ServedModel.of(rec, current.path, saved_id=saved)
            logger.info("changed the model (%s) in %.2fs", rec.lineage[-1].get("kind"), time.perf_counter() - start)
            if failure is not None:
                msg = f"the model was changed, and serves the change, but it was not saved in {current.path}: {failure}"
                logger.error("%s", msg)  # the operator's to know too: a restart would serve the folder's model
                raise UnsavedChangeError(msg) from failure
            return self.current


def _save_over(rec: Recommender, path: Path, expected: str | None) -> str | None:
    """Save `rec` over the model folder `path` if it still holds the save `expected`; return the new save's.

    The check and the save hold :func:`~recframe.artifacts.model_lock.model_lock` (waiting at
    most :data:`SAVE_WAIT_SECONDS` for it), so no ``recframe update`` or ``forget`` saves in
    between. The save id tells one save from another, also a refit of the same data (whose data
    fingerprint is the same); the new save's comes from the model, since once the save has put a
    new folder in place another program may lock and change that one.

    Parameters
    ----------
    rec : Recommender
        The changed model.
    path : Path
        The folder it was loaded from.
    expected : str or None
        The :func:`saved_identity` of the model this service loaded from or last saved in
        `path`; ``None`` (not known) saves without the check.

    Returns
    -------
    str or None
        The :func:`saved_identity` of the model now saved (`rec`'s save id).

    Raises
    ------
    ConcurrentChangeError
        If `path` holds another save (another process saved it since this service loaded or
        saved its own): saving over it would undo that change. Nothing is written.
    ModelFolderBusyError
        If a ``recframe update`` or ``forget`` held the folder longer than :data:`SAVE_WAIT_SECONDS`.
    RecframeError
        If the folder can't be read or written.
    """
    with model_lock(path, timeout=SAVE_WAIT_SECONDS):
        if expected is not None and _identity_in(read_manifest(path)) != expected:
            msg = (
                "the folder holds another model than the one this service loaded or last saved there "
                "(another process saved it meanwhile, and saving over it would undo that change); "
                "POST /reload to serve the folder's model (without this change)"
            )
            raise ConcurrentChangeError(msg)
        rec.save(path)
    return saved_identity(rec)
