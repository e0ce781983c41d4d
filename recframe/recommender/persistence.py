"""Saving and loading a fitted recommender: ``save`` and ``load`` (the format is :mod:`recframe.artifacts`).

:class:`PersistenceMethods` is a base of :class:`~recframe.recommender.Recommender`. ``save``
writes the published fitted state (the training matrix and ids, the neighbour graphs, and every
fitted component's :meth:`~recframe.interfaces.Component.get_state`) into a model folder;
``load`` checks the folder (format version, file sizes and checksums, installed plugins), builds
each component from its registered type and saved config, restores its state with ``set_state``,
and publishes the whole with one atomic swap, as ``fit`` does. Nothing in the folder is run.
"""

from __future__ import annotations

import functools
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from recframe._version import __version__
from recframe.artifacts.manifest import (
    FORMAT_VERSION,
    TemplatesLeftOutWarning,
    check_format,
    component_class,
    component_record,
    decode_state,
    encode_state,
    manifest_field,
)
from recframe.artifacts.model_files import FORMAT_NAME, ArrayWriter, ModelFileError, why_not_written, write_folder
from recframe.artifacts.opened_folder import OpenedFolder, read_whole
from recframe.errors import ConfigError, PluginError, RecframeError
from recframe.interfaces import (
    CandidateRanker,
    Component,
    MatrixBuilder,
    SimilarityBackend,
    graph_from_state,
    graph_state,
    interactions_from_state,
    interactions_state,
    matrix_from_state,
    matrix_state,
)
from recframe.interfaces.calls import calling
from recframe.interfaces.state import check_graph, check_loaded
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.fitting import FitMethods
from recframe.recommender.held_events import HeldEvents
from recframe.recommender.neighbour_lists import NeighbourLists, Suspects
from recframe.registry import PluginRegistry

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import InteractionMatrix

AXES = ("users", "items")


class PersistenceMethods(FitMethods):
    """The saving part of :class:`~recframe.recommender.Recommender`: ``save`` and ``load``."""

    if TYPE_CHECKING:

        def to_config(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
            """Return the run config (see :meth:`Recommender.to_config`)."""
            ...

    def _templates(self) -> list[tuple[str, Component]]:
        """Return the component templates by role: what the next fit or update uses."""
        return [
            ("matrix", self.matrix),
            ("similarity", self.similarity),
            ("ranker", self.ranker),
            *((f"ranker.fallback[{i}]", f) for i, f in enumerate(self.fallbacks)),
        ]

    @property
    def save_id(self) -> str | None:
        """The id of the last save of this very model: the one it was loaded from, or last written to.

        Every save writes a new random id into its manifest (``save_id``), so a program can tell
        whether a model folder still holds that save (the HTTP service checks so before it saves
        a change over it). ``None`` for a model fitted, updated or forgotten in this process and
        not saved since, or loaded from a model saved before recframe wrote ids.
        """
        return self._state().save_id

    def save(self, path: str | Path, *, training_data: bool = True) -> Path:
        """Write the fitted model into the folder `path`, atomically; load it with :meth:`load`.

        The folder holds ``manifest.json`` (format version, recframe version, the run config
        with secrets masked, each component's kind, type, plugin distribution, version,
        config and state, the training data's fingerprint, and the sha256 of every file) and
        one ``.npy`` file per array, among them the training interactions (so that the loaded
        model can be updated: ``update``, ``forget``) and the model's lineage (the fit and
        every update since). The components recorded are those that made the model (the
        matrix builder that built the matrix, the fitted similarity and rankers); templates set
        since (``rec.matrix = ...``, ``rec.ranker = ...``, not yet used by an update) are
        recorded beside them, so that the loaded model's next update uses them as this one's
        would. It is written beside `path` under a temporary name and
        renamed into place: a failure leaves no half-written model. An existing `path` is
        replaced only if it is an empty folder or a saved model.

        Parameters
        ----------
        path : str or Path
            The model folder.
        training_data : bool
            Keep the training interactions in the model (the default). ``False`` writes a
            smaller model that answers the same queries but can't be updated.

        Returns
        -------
        Path
            The folder written.

        Raises
        ------
        NotFittedError
            If the recommender is not fitted.
        PluginError
            If a component can't be saved (not registered, or its state holds something other
            than arrays and JSON values): the message names its role and plugin.
        ConfigError
            If `path` is empty, a file or a folder of other files.
        RecframeError
            If the folder can't be written (the message names the system error).
        """
        folder = _named_folder(path, "save")
        with self._lock:  # the model, the templates and the config of one moment (a reload swaps them under it)
            fitted = self._state()
            templates = self._templates()
            try:
                config: Any = self.to_config()
            except RecframeError:  # a recommender no run file describes (filters without data...)
                config = None
        registry = self.registry if self.registry is not None else PluginRegistry.from_environment()
        roles: list[tuple[str, Component, bool]] = [
            ("matrix", fitted.builder if fitted.builder is not None else dict(templates)["matrix"], True),
            ("similarity", fitted.similarity, False),
            *((f"similarity.{axis}", fitted.backends[axis], True) for axis in AXES if axis in fitted.backends),
            ("ranker", fitted.ranker, True),
            *((f"ranker.fallback[{i}]", f, True) for i, f in enumerate(fitted.fallbacks)),
        ]
        records = [component_record(role, component, registry) for role, component, _ in roles]
        pending = _pending_records(templates, roles, registry, folder)
        states: dict[str, Any] = {}
        for (role, component, stateful), record in zip(roles, records, strict=True):
            if stateful and role != "matrix" and type(component).get_state is Component.get_state:
                msg = (
                    f"{role}: {self._who(component)} does not implement get_state() and set_state(), so a saved "
                    "model could not restore what it learned; see 'Saved models' in docs/plugins.md"
                )
                raise PluginError(msg)
            if stateful:
                with calling(lambda c=component: self._who(c), "get_state"):  # type: ignore[misc]
                    states[role] = component.get_state()
                record["state_of"] = role
        shared: dict[str, Any] = matrix_state("matrix", fitted.matrix)
        for axis, graph in fitted.graphs.items():
            shared.update(graph_state(f"graphs.{axis}", graph))
        for axis, lists in fitted.lists.items():
            shared.update(graph_state(f"lists.{axis}", lists.graph))
            shared[f"lists.{axis}.floors"] = lists.floors
            if lists.suspects is not None:
                shared[f"lists.{axis}.suspects.rows"] = lists.suspects.rows
                shared[f"lists.{axis}.suspects.bounds"] = lists.suspects.bounds
        if training_data and fitted.interactions is not None:
            shared.update(interactions_state("training", fitted.interactions))

        save_id = uuid.uuid4().hex

        def fill(folder: Path) -> dict[str, Any]:
            writer = ArrayWriter(folder)
            encoded = {
                role: encode_state(writer, f"{role}: {self._who(component)}", states[role])
                for role, component, stateful in roles
                if stateful
            }
            for record in records:
                if "state_of" in record:
                    record["state"] = encoded[record.pop("state_of")]
            return {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "recframe_version": __version__,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "save_id": save_id,
                "name": self.name,
                "seed": self.seed,
                "config": config,
                "data": {
                    "fingerprint": fitted.fingerprint,
                    "n_interactions": fitted.n_interactions,
                    "n_users": fitted.matrix.n_users,
                    "n_items": fitted.matrix.n_items,
                    "lineage": list(fitted.lineage),
                },
                "components": records,
                **({"templates": pending} if pending else {}),
                "recommender": {
                    "graphs": sorted(fitted.graphs),
                    "timings": fitted.timings,
                    "state": encode_state(writer, "recommender", shared),
                },
                "files": writer.files,
            }

        target = folder
        try:
            write_folder(target, fill)
        except OSError as exc:
            msg = f"{target}: can't write the model: {why_not_written(exc, target.parent)}"
            raise RecframeError(msg) from exc
        fitted.save_id = save_id  # this very model is now that save (only save_id is ever set on a published state)
        return target

    @classmethod
    def load(
        cls, path: str | Path, *, mmap: bool = True, registry: PluginRegistry | None = None, verify: bool = True
    ) -> Self:
        """Return the recommender saved in the folder `path`, fitted, without refitting.

        Each component is built from its registered type (looked up in `registry`; nothing
        named by the folder is imported) and its saved config, and gets its saved state with
        ``set_state``. The loaded recommender answers every query as the saved one did. It
        has no data source, splitter or metrics (the saved ``config`` is in the manifest).

        Parameters
        ----------
        path : str or Path
            A folder written by :meth:`save` (or the ``model/`` folder of a run).
        mmap : bool
            Memory-map the arrays read-only (the default): loading reads almost nothing, and
            processes loading the same model share its pages. ``False`` reads them into memory.
        registry : PluginRegistry, optional
            Where component types are looked up; the installed plugins by default.
        verify : bool
            Check every file's sha256 against the manifest (the default); this reads each file
            once (about 0.3 s per GB), without keeping it in memory. ``False`` checks only that
            every file is there with its size.

        Raises
        ------
        ModelFileError
            (a :class:`~recframe.errors.DataError`) If the folder is not a saved model, a file
            is missing or altered, the format is newer than this recframe reads, or a
            component's plugin is not installed (the message names the distribution).
        PluginError
            If a component refuses its saved state.
        ConfigError
            If `path` is an empty string (``"."`` names the current folder).

        Warns
        -----
        ModelVersionWarning
            If a component's plugin is installed in another version than the one that saved it.
        """
        opened = functools.partial(cls._load_opened, mmap=mmap, registry=registry, verify=verify)
        return read_whole(_named_folder(path, "load"), opened, "being loaded")

    @classmethod
    def _load_opened(cls, folder: OpenedFolder, *, mmap: bool, registry: PluginRegistry | None, verify: bool) -> Self:
        """Load the model of the opened `folder` (see :meth:`load`): every file from the same save."""
        path = folder.path
        manifest = check_format(path, folder.manifest())
        files = manifest.get("files")
        records = manifest.get("components")
        body = manifest.get("recommender")
        if not isinstance(files, dict) or not isinstance(records, list) or not isinstance(body, dict):
            msg = f"{path / 'manifest.json'}: lacks its files, components or recommender; the manifest was altered"
            raise ModelFileError(msg)
        folder.open_files(files, checksums=verify)
        registry = registry if registry is not None else PluginRegistry.from_environment()
        cache: dict[str, np.ndarray] = {}
        built: dict[str, Component] = {}
        warned: set[str] = set()  # distributions whose other installed version was warned about
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("role"), str):
                msg = f"{path / 'manifest.json'}: a component record is malformed; the manifest was altered"
                raise ModelFileError(msg)
            role = record["role"]
            component = _unfitted(path, record, registry, role, warned)
            if "state" not in record and role != "similarity":
                msg = f"{path / 'manifest.json'}: {role} has no saved state; the manifest was altered"
                raise ModelFileError(msg)
            if "state" in record:
                state = decode_state(folder, record["state"], files, cache, mmap=mmap)
                try:
                    with calling(lambda c=component: registry.describe(c), "set_state"):  # type: ignore[misc]
                        component.set_state(state)
                        check_loaded(component)
                except RecframeError as exc:
                    if verify and not cls._builtin(component):  # the files match their checksums: the plugin's fault
                        msg = (
                            f"{path}: {role}: {registry.describe(component)} could not restore the state it saved "
                            f"({exc}); the files match the checksums they were saved with, so fix or update the plugin"
                        )
                        raise PluginError(msg) from exc
                    # the files may be altered, or a plugin may not read back what it saved: the error says which
                    culprit = "" if cls._builtin(component) else ", or the plugin can't read back what it saved"
                    msg = f"{path}: {role}: its saved state was refused ({exc}); the files were altered{culprit}"
                    raise ModelFileError(msg) from exc
            built[role] = component
        shared = decode_state(folder, body.get("state"), files, cache, mmap=mmap)
        try:
            matrix = matrix_from_state(shared, "matrix")
            graphs = {
                axis: graph_from_state(shared, f"graphs.{axis}") for axis in AXES if f"graphs.{axis}.indices" in shared
            }
            for axis, graph in graphs.items():
                check_graph(graph, matrix.n_users if axis == "users" else matrix.n_items, f"graphs.{axis}")
            lists = {axis: _lists(shared, axis, matrix) for axis in graphs if f"lists.{axis}.indices" in shared}
            training = interactions_from_state(shared, "training") if "training.users" in shared else None
        except (PluginError, RecframeError) as exc:
            msg = f"{path}: the recommender's state is malformed ({exc}); the manifest was altered"
            raise ModelFileError(msg) from exc
        fitted_rankers = _roles_checked(path, built)
        similarity = built["similarity"]
        assert isinstance(similarity, SimilarityBackend)

        def template(component: Component) -> Any:
            return type(component)(component.config)

        pending = _pending_templates(path, manifest.get("templates"), registry, warned)
        templates = pending or {"matrix": built["matrix"], "similarity": similarity, "ranker": built["ranker"]}
        fallbacks = _fallbacks(pending) if pending else fitted_rankers[1:]
        data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
        assert isinstance(data, dict)
        name, seed = manifest.get("name"), manifest.get("seed")
        rec = cls(
            matrix=templates["matrix"],  # type: ignore[call-arg]
            similarity=templates["similarity"],
            ranker=template(templates["ranker"]),
            fallback=[template(r) for r in fallbacks] or None,
            seed=seed if isinstance(seed, int) else 0,
            name=name if isinstance(name, str) else "recframe",
            registry=registry,
        )
        backends = {axis: built[f"similarity.{axis}"] for axis in AXES if f"similarity.{axis}" in built}
        timings = body.get("timings")
        fitted = _Fitted(
            matrix,
            manifest_field(path, data, "fingerprint", str, "data") if "fingerprint" in data else "",
            manifest_field(path, data, "n_interactions", int, "data") if "n_interactions" in data else matrix.nnz,
            fitted_rankers,
            template(similarity),
            backends=backends,  # type: ignore[arg-type]
            graphs=graphs,
            timings=dict(timings) if isinstance(timings, dict) else {},
            interactions=None if training is None else HeldEvents(training),  # ranges found on first use
            lineage=_lineage(path, data),
            lists=lists,
            builder=built["matrix"],  # type: ignore[arg-type]  # checked by _roles_checked
            save_id=manifest["save_id"] if isinstance(manifest.get("save_id"), str) else None,
        )
        rec._publish(fitted)
        return rec

    def reload(self, path: str | Path, *, mmap: bool = True, verify: bool = True) -> Self:
        """Swap the model saved in the folder `path` into this recommender, with one atomic swap.

        For a long-lived recommender (a service, a worker) that moves to a newly saved model:
        the model is loaded completely first (as :meth:`load` does, with this recommender's
        registry), then published in one swap, so a call running meanwhile answers wholly from
        the old model and every later call from the new one. The component templates
        (``ranker``, ``fallbacks``, ``similarity``, ``matrix``) become the loaded model's.

        Raises
        ------
        ModelFileError
            As :meth:`load`; this recommender then keeps answering from its current model.
        """
        loaded = type(self).load(path, mmap=mmap, registry=self.registry, verify=verify)
        self._publish(loaded._state(), templates_of=loaded)
        return self


def _pending_records(
    templates: list[tuple[str, Component]],
    roles: list[tuple[str, Component, bool]],
    registry: PluginRegistry,
    path: Path,
) -> list[dict[str, Any]]:
    """Return the records of the templates where they differ from the components that made the model, else none.

    Templates set since the fit (``rec.ranker = ...``) are what the next update uses, so the
    loaded model's must be them too. One that can't be recorded (a component no plugin registers)
    leaves them all out, with a warning: the model itself is saved whole, and the loaded one's
    next update uses its saved components.
    """
    made_by = [(role, component) for role, component, _ in roles if not role.startswith("similarity.")]
    if not _differ(templates, made_by):
        return []
    try:
        return [component_record(role, component, registry) for role, component in templates]
    except PluginError as exc:
        warnings.warn(
            f"{path}: the components set since the fit are not saved ({exc}); a loaded copy updates with "
            "the components that made the model",
            TemplatesLeftOutWarning,
            stacklevel=3,
        )
        return []


def _pending_templates(
    path: Path, records: Any, registry: PluginRegistry, warned: set[str] | None = None
) -> dict[str, Component]:
    """Return the saved templates by role (see :func:`_pending_records`), or none if there are none.

    Templates that can't be built here (a plugin not installed, a record altered) are left out
    with a warning, since the model needs only its own components: the next update then uses those.
    """
    if records is None:
        return {}
    try:
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            msg = f"{path / 'manifest.json'}: templates must be a list of component records; the manifest was altered"
            raise ModelFileError(msg)
        built = {str(r.get("role")): _unfitted(path, r, registry, f"template {r.get('role')}", warned) for r in records}
        _roles_checked(path, built, "template ")
    except ModelFileError as exc:
        warnings.warn(
            f"{exc}; the components set since the fit are not restored, the next update uses the model's own",
            TemplatesLeftOutWarning,
            stacklevel=4,
        )
        return {}
    return built


def _unfitted(
    path: Path, record: dict[str, Any], registry: PluginRegistry, who: str, warned: set[str] | None = None
) -> Component:
    """Return a new component of the type and config a manifest's `record` names (registered types only).

    Raises
    ------
    ModelFileError
        If its plugin is not installed, or its saved config does not fit its type.
    """
    component_type = component_class(path, record, registry, warned)
    try:
        config = component_type.Config.model_validate(record.get("config"))
    except ValidationError as exc:
        msg = f"{path}: {who}: the saved config does not fit {registry.describe(component_type)}: {exc}"
        raise ModelFileError(msg) from exc
    return component_type(config)


def _roles_checked(path: Path, built: dict[str, Component], prefix: str = "") -> tuple[CandidateRanker, ...]:
    """Return the rankers of `built` (the main one, then the fallbacks), once every role is of its kind.

    Raises
    ------
    ModelFileError
        If the matrix builder, the similarity or a ranker is missing or of another kind.
    """
    rankers = [built.get("ranker"), *_fallbacks(built)]
    roles = {"matrix": MatrixBuilder, "similarity": SimilarityBackend}
    for role, interface in roles.items():
        if not isinstance(built.get(role), interface):
            msg = f"{path}: has no {prefix}{role} component of the right kind; the manifest was altered"
            raise ModelFileError(msg)
    if not all(isinstance(r, CandidateRanker) for r in rankers):
        msg = f"{path}: has no {prefix}ranker of the right kind; the manifest was altered"
        raise ModelFileError(msg)
    return tuple(rankers)  # type: ignore[arg-type]


def _fallbacks(built: dict[str, Component]) -> list[Component]:
    """Return the fallback rankers of `built` in order (``ranker.fallback[0]``, ``[1]``, ... while there)."""
    found: list[Component] = []
    while f"ranker.fallback[{len(found)}]" in built:
        found.append(built[f"ranker.fallback[{len(found)}]"])
    return found


def _differ(templates: list[tuple[str, Component]], fitted: list[tuple[str, Component]]) -> bool:
    """Return whether the templates differ from the fitted components in role, class or config."""
    if [role for role, _ in templates] != [role for role, _ in fitted]:
        return True
    return any(type(t) is not type(f) or t.config != f.config for (_, t), (_, f) in zip(templates, fitted, strict=True))


def _lineage(path: Path, data: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Return the saved lineage (the fit and every update), or a fit entry for a model saved without one."""
    lineage = data.get("lineage")
    if lineage is None:
        fingerprint = data.get("fingerprint")
        return ({"kind": "fit", "events": data.get("n_interactions"), "fingerprint": fingerprint},)
    if not isinstance(lineage, list) or not all(isinstance(entry, dict) for entry in lineage):
        msg = f"{path / 'manifest.json'}: data.lineage must be a list of records; the manifest was altered"
        raise ModelFileError(msg)
    return tuple(lineage)


def _lists(state: dict[str, Any], axis: str, matrix: InteractionMatrix) -> NeighbourLists:
    """Return the saved neighbour lists of `axis` (for updates) and their suspects, checked like graphs."""
    graph = graph_from_state(state, f"lists.{axis}")
    n_rows = matrix.n_users if axis == "users" else matrix.n_items
    check_graph(graph, n_rows, f"lists.{axis}")
    floors = state.get(f"lists.{axis}.floors")
    if not isinstance(floors, np.ndarray) or floors.shape != (n_rows,) or floors.dtype.kind != "f":
        msg = f"state entry 'lists.{axis}.floors' must be a float array of {n_rows} entries"
        raise PluginError(msg)
    return NeighbourLists(graph, floors, _suspects(state, axis, n_rows))


def _suspects(state: dict[str, Any], axis: str, n_rows: int) -> Suspects | None:
    """Return the saved suspects of `axis`'s lists, checked; ``None`` for a model saved without any."""
    name = f"lists.{axis}.suspects"
    if f"{name}.rows" not in state:  # saved before suspects were kept, or with none
        return None
    rows, bounds = state[f"{name}.rows"], state.get(f"{name}.bounds")
    if not isinstance(rows, np.ndarray) or not isinstance(bounds, np.ndarray):
        msg = f"state entries '{name}.rows' and '{name}.bounds' must be arrays"
        raise PluginError(msg)
    fits = (
        rows.ndim == 2
        and rows.shape[0] == n_rows
        and rows.shape == bounds.shape
        and rows.dtype == np.int64
        and bounds.dtype == np.float64
    )
    if not fits:
        msg = f"state entries '{name}.*' must be int64 rows and float64 bounds of {n_rows} rows, alike in shape"
        raise PluginError(msg)
    if rows.size and (int(rows.min()) < -1 or int(rows.max()) >= n_rows):
        msg = f"state entry '{name}.rows' holds rows outside -1..{n_rows - 1}"
        raise PluginError(msg)
    # the update's kernel sizes its buffers for distinct suspects other than the row: a file
    # that breaks this is refused, not read past them
    ordered = np.sort(rows, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if rows.shape[1] >= max(n_rows, 1) or bool(repeated.any()) or bool((rows == np.arange(n_rows)[:, None]).any()):
        msg = f"state entry '{name}.rows' holds a row twice, a row suspecting itself, or more than the other rows"
        raise PluginError(msg)
    if not bool(np.isfinite(bounds).all()):
        msg = f"state entry '{name}.bounds' holds NaN or an infinity"
        raise PluginError(msg)
    return Suspects(rows, bounds)


def _named_folder(path: str | Path, what: str) -> Path:
    """Return the model folder `path` as a ``Path``; refuse ``""``, which ``Path`` reads as the current folder."""
    if isinstance(path, str) and not path:
        msg = f"{what}: the model folder is an empty path; name a folder ('.' is the current one)"
        raise ConfigError(msg)
    return Path(path)
