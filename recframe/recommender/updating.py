"""Updating a fitted recommender: ``update`` adds interactions, ``forget`` removes users and items.

:class:`UpdateMethods` is a base of :class:`~recframe.recommender.Recommender`. Both methods
give exactly the model that ``fit`` gives on the resulting training data (the old events, then
the new ones; without the forgotten users' and items' events), up to exact ties at the ``k``-th
neighbour, without recomputing what the change leaves alone:

* the matrix is brought up to date by the matrix builder (:meth:`MatrixBuilder.update
  <recframe.interfaces.MatrixBuilder.update>`: ``ratings`` and ``binary`` merge the changed
  cells into the previous matrix, without reading the old events), or, where the builder can't
  promise the result of a full build (weightings, some duplicate policies), built again from
  the resulting events, so every duplicate policy and weighting means what it means in a fit;
* each neighbour graph is brought up to date by :func:`~recframe.recommender.graph_update.update_graph`:
  only the rows whose entries changed are searched in full, the others merge their old
  neighbours with the changed rows (a backend that can't promise this, or a weighting that
  changes every row, such as ``bm25``, gets a full search, and the update records why);
* the rankers are fitted again on the new matrix and graphs (cheap: they read both).

The new state is built completely, then published with one atomic swap, so queries running
meanwhile answer wholly from the old model; an update that fails leaves the model as it was.
Every update is added to the model's lineage, which a saved model keeps.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recframe.data import IdArray, InteractionMatrix, Interactions
from recframe.data.matrix import DATA_FAULTS
from recframe.engine import Engine
from recframe.engine.entry_facts import ColumnTotals, entry_facts
from recframe.engine.kernel_inputs import read_only_view
from recframe.errors import DataError, RepeatedPairError
from recframe.interfaces import CellChanges, EventChange, MatrixUpdate, NeighbourGraph, SimilarityBackend
from recframe.interfaces.calls import calling, checked_interactions
from recframe.interfaces.checks import check_graph, check_matrix
from recframe.interfaces.update_context import updating_model
from recframe.recommender.cell_checks import cells_agree, check_cells
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.fitting import FitMethods, _fresh_copy
from recframe.recommender.graph_delta import DeltaMeasure, update_lists
from recframe.recommender.graph_update import GraphUpdate, update_graph
from recframe.recommender.item_rows import updated_item_rows
from recframe.recommender.joined_events import first_part, joined_events
from recframe.recommender.lineage import bounded_lineage, forgotten_lineage
from recframe.recommender.measure_claim import broken_claim
from recframe.recommender.pending_events import PendingEvents, settled
from recframe.recommender.row_changes import changed_rows, position_map
from recframe.recommender.similarity_change import result_changes
from recframe.recommender.small_pages import small_pages
from recframe.recommender.update_inputs import (
    check_updated_ids,
    forget_ids,
    not_in_training_data,
    repeated_in_update,
    training_data,
    update_events,
)

if TYPE_CHECKING:
    from typing_extensions import Self

logger = logging.getLogger(__name__)

NEW_GRAPH = "the model had no such graph: a ranker set since the fit needs it"
"""The lineage's reason for a graph an update searched in full because the model had none to update."""


class UpdateMethods(FitMethods):
    """The updating part of :class:`~recframe.recommender.Recommender`: ``update`` and ``forget``.

    Updates of one recommender run one at a time (``_updating``, a lock set by
    ``Recommender.__init__``): each builds on the state the previous one published.
    """

    _updating: threading.Lock

    def update(self, data: object) -> Self:
        """Add interactions to the fitted model: new users, new items, more events of known ones.

        The result equals ``fit`` on the training events followed by these (so a repeated
        (user, item) pair combines by the matrix builder's ``duplicates`` policy: a new rating
        replaces the old one under ``last``), up to exact ties at the ``k``-th neighbour.
        Only what the new events change is recomputed; the new model is published with one
        atomic swap, and nothing changes if the update fails.

        Parameters
        ----------
        data : Interactions, mapping of columns, DataFrame or tuple of arrays
            The new events, as ``fit`` takes them, with the same columns as the training
            data (values and timestamps where it has them) and ids of the same kind.

        Raises
        ------
        DataError
            If the events are empty, have a column the training data lacks (or lack one it
            has), or ids of the other kind (text for integers or the reverse).
        NotFittedError
            If the recommender is not fitted.
        RecframeError
            If the model was saved without its training data, so it can't be updated.
        """
        self._check_components()
        with self._updating, small_pages(), updating_model():
            start = time.perf_counter()
            fitted = self._state()
            base = training_data(fitted, "update")
            new = update_events(data, first_part(base))  # checked against the columns' kinds: nothing joined
            entry = {"kind": "update", "events": len(new), "fingerprint": new.fingerprint()}
            change = EventChange(base, joined_events(base, new), added=new)  # joined when first read
            try:
                self._publish(self._updated_state(fitted, change, entry, start), replacing=fitted)
            except RepeatedPairError as error:
                raise repeated_in_update(error, len(base), len(new)) from error
        return self

    def forget(self, users: object = None, items: object = None) -> Self:
        """Remove every event of the given users and items (a data-protection request).

        The result equals ``fit`` on the training events without theirs, up to exact ties at
        the ``k``-th neighbour; the forgotten ids are gone from the model (its matrix, its
        neighbours, its popularity counts), and from a model saved afterwards. The lineage
        records how many were forgotten, nothing of their ids (not even a digest, which a
        guess of the ids could confirm); the digests of the earlier events become ``None`` and
        the chained fingerprint's step is salted, for the same reason.

        Parameters
        ----------
        users, items : sequence of ids, optional
            The users and the items to forget. An empty sequence beside ids of the other axis
            forgets none of its axis (as the HTTP service takes ``"users": []``).

        Raises
        ------
        DataError
            If an id is not in the training data (the message lists them), no id is given,
            nothing would remain, or the matrix builder refuses the events that would remain
            (the message says so, with the builder's reason).
        TypeError
            If an id is neither an int nor a str (a float such as ``1.0``, a bool, ``None``), or
            `users` or `items` is not an id or a sequence of ids: ids are checked as a query's
            are (:meth:`recommend`), where an update's data columns are read as a data source's.
        NotFittedError
            If the recommender is not fitted.
        """
        if users is None and items is None:
            msg = "forget needs users, items or both"
            raise DataError(msg)
        self._check_components()
        with self._updating, small_pages(), updating_model():
            start = time.perf_counter()
            fitted = self._state()
            base = training_data(fitted, "forget")
            removed: dict[str, IdArray] = {}
            for name, ids in (("users", users), ("items", items)):
                column = base.users if name == "users" else base.items
                index = fitted.matrix.users if name == "users" else fitted.matrix.items
                # an empty list beside ids of the other axis forgets none of these (as the service takes it)
                other = items if name == "users" else users
                either = other is not None and not _empty(other)
                removed[name] = column[:0] if ids is None else forget_ids(ids, index, column, name, allow_empty=either)
            entry = {"kind": "forget", "users": len(removed["users"]), "items": len(removed["items"]), "events": None}
            after = PendingEvents(base, removed["users"], removed["items"])  # found and copied on a worker meanwhile
            try:
                change = EventChange(base, after, removed_users=removed["users"], removed_items=removed["items"])
                self._publish(self._updated_state(fitted, change, entry, start), replacing=fitted)
            except BaseException as error:
                after.wait()  # no copy outlives a forget that failed
                if isinstance(error, Exception) and after.error is not None and _caused_by(error, after.error):
                    raise after.error from None  # the copy failed (memory, say), not the plugin that read it
                refusal = _refusal(after, len(base)) if isinstance(error, Exception) and after.error is None else None
                if refusal is not None:
                    raise refusal from None  # what a builder made of it meanwhile is beside the point
                if isinstance(error, DataError):  # the events left are refused (a builder's threshold, say)
                    msg = f"forget: what it would leave is refused: {error}; nothing was forgotten"
                    raise DataError(msg) from error
                raise
        return self

    @property
    def lineage(self) -> list[dict[str, Any]]:
        """The fit and every update since, oldest first (after ``fit`` or ``load``).

        Each entry is a dict of JSON values: ``kind`` (``fit``, ``update`` or ``forget``),
        ``events`` (added, removed or fitted), ``fingerprint`` (sha256 of the events added,
        ``None`` once a later ``forget`` removed events; a ``forget`` records only how many
        users and items it forgot), and for updates the users and items added and removed,
        the time, the seconds taken, how the matrix was made
        (``matrix``: ``incremental``, brought up to date by the builder, or ``full``, built
        again) and what each neighbour graph needed (``delta`` or ``incremental`` with the rows
        searched and merged, or ``full`` with the reason). The latest 1,000 changes are kept
        whole; older ones are folded into one entry of kind ``folded`` after the fit's, which
        counts them (:func:`~recframe.recommender.lineage.bounded_lineage`).
        """
        return [dict(entry) for entry in self._state().lineage]

    @property
    def training_interactions(self) -> Interactions:
        """The events the model is fitted on: the fit's, with every update's added and every forget's removed.

        After ``fit`` or ``load``: read-only views of the model's own events, with the ids as
        given (not the matrix's positions); after an update, the first call joins its events
        to the model's (an update joins them only when read). A refit on them,
        ``Recommender.from_config(rec.to_config()).fit(rec.training_interactions)``, gives the
        model an update or a forget made (see docs/updating.md): the way to check one. They
        keep the order they came in (the fit's, then each update's), so a matrix builder whose
        duplicate policy depends on it builds the same matrix from them.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        RecframeError
            For a model saved without its training data (``save(..., training_data=False)``).
        """
        events = training_data(self._state(), "give the training interactions", "which a refit would need")
        values, timestamps = events.values, events.timestamps  # an update's events are joined now
        return Interactions._unchecked(
            read_only_view(events.users),
            read_only_view(events.items),
            None if values is None else read_only_view(values),
            None if timestamps is None else read_only_view(timestamps),
        )

    def _updated_state(self, fitted: _Fitted, change: EventChange, entry: dict[str, Any], start: float) -> _Fitted:
        """Return the state ``fit`` would build on ``change.after``, recomputing only what changed.

        `start` is when the update began (``time.perf_counter``): the events were read and
        checked since, which the timings call ``events`` (an update's are joined after the
        model's only when read, :class:`.JoinedEvents`; a forget's are filtered on a worker
        meanwhile, :class:`.PendingEvents`).
        """
        step = time.perf_counter()
        interactions = change.after
        matrix, entry["matrix"], cells, totals = self._updated_matrix(fitted, change)
        timings = {"events": step - start, "matrix": time.perf_counter() - step}
        user_map = position_map(fitted.matrix.users, matrix.users)
        item_map = position_map(fitted.matrix.items, matrix.items)
        entry.update(
            {
                "users_added": int(matrix.n_users - (user_map >= 0).sum()),
                "users_removed": int((user_map < 0).sum()),
                "items_added": int(matrix.n_items - (item_map >= 0).sum()),
                "items_removed": int((item_map < 0).sum()),
            }
        )
        lineage, what = fitted.lineage, entry.get("fingerprint")
        if entry["kind"] == "forget":
            assert isinstance(interactions, PendingEvents)  # its events were found meanwhile
            refusal = _refusal(interactions, len(change.before))
            if refusal is not None:
                raise refusal
            entry["events"] = len(change.before) - len(interactions)
            # nothing that could confirm a guess of what it removed: see forgotten_lineage
            lineage, what = forgotten_lineage(lineage, entry)
        fingerprint = hashlib.sha256(f"{fitted.fingerprint}\n{entry['kind']}:{what}".encode())
        similarity, changed_similarity = self._similarity_since(fitted)
        updated = _Fitted(
            matrix,
            fingerprint.hexdigest(),
            len(interactions),
            (),
            similarity,
            timings=timings,
            interactions=interactions,
            builder=self.matrix,
        )
        cells = self._agreed_cells(fitted, cells, item_map, totals)
        if cells is not None and fitted.item_rows is not None:  # the items' rows merged, not transposed anew
            step = time.perf_counter()
            previous = entry_facts(fitted.matrix, columns=True)[1]  # kept on the matrix (no pass)
            updated.item_rows = updated_item_rows(
                fitted.item_rows, cells, item_map, user_map, matrix.matrix, totals, previous
            )
            timings["item rows"] = time.perf_counter() - step
        records = {}
        # a copy: a query may add a graph to the published state meanwhile (similar_* on first use);
        # every graph there is updated, so a service's similar-items graph survives its updates
        for axis, graph in list(fitted.graphs.items()):
            maps = (user_map, item_map) if axis == "users" else (item_map, user_map)
            step = time.perf_counter()
            if changed_similarity is None:
                records[axis] = self._update_axis(fitted, updated, axis, graph, *maps, cells)
            else:  # searched in full with the new similarity, as a fit with it would
                searched = self._graph(updated, axis)
                assert searched is not None  # a graph of users or items
                records[axis] = GraphUpdate(searched, changed_similarity, len(searched.indices), 0).record()
            timings[f"neighbours {axis}"] = time.perf_counter() - step
            logger.debug("%s neighbours updated: %s", axis[:-1], records[axis])
        self._fit_rankers(updated)
        for axis, graph in updated.graphs.items():  # one the rankers need since the fit (rec.ranker = ...)
            if axis not in records:
                records[axis] = GraphUpdate(graph, NEW_GRAPH, len(graph.indices), 0).record()
        step = time.perf_counter()
        updated.interactions = settled(interactions)
        if updated.interactions is not interactions:
            timings["events kept"] = time.perf_counter() - step  # the wait for the worker's copy
        entry["neighbours"] = records
        entry["at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry["seconds"] = round(time.perf_counter() - start, 6)
        updated.lineage = bounded_lineage((*lineage, entry))
        return updated

    def _agreed_cells(
        self, fitted: _Fitted, cells: CellChanges | None, item_map: np.ndarray, totals: ColumnTotals | None
    ) -> CellChanges | None:
        """Return the builder's cells where they agree with its matrix, else ``None`` (the matrices are compared).

        The new matrix's item `totals` must be the previous ones (kept on the fitted matrix by the
        fit or the update) plus the cells' changes (:func:`~.cell_checks.cells_agree`); where
        not, a warning names the builder.
        """
        if cells is None or totals is None:
            return None
        previous = entry_facts(fitted.matrix, columns=True)[1]
        if previous is None:  # not for a matrix the checks passed: nothing to compare the cells with
            return None
        if not cells_agree(cells, item_map, totals, previous):
            logger.warning(
                "%s: the cells its update reported changed disagree with its matrix (an item's count of entries "
                "or sum of values); the previous and the updated matrices are compared instead",
                self._who(self.matrix),
            )
            return None
        return cells

    def _similarity_since(self, fitted: _Fitted) -> tuple[SimilarityBackend, str | None]:
        """Return the similarity template of the updated state, and why its graphs are searched anew (or ``None``).

        An update gives what a fit would give now, so it takes ``rec.similarity`` as it is; where
        that changes the neighbours (:func:`~.similarity_change.result_changes`), every graph is
        searched in full with it, as a changed matrix builder is built again.
        """
        current = self.similarity
        reason = result_changes(current, fitted.similarity)
        with calling(self._who(current), "__deepcopy__"):  # its run settings apply from now on, as at a fit
            return _fresh_copy(current), reason

    def _updated_matrix(
        self, fitted: _Fitted, change: EventChange
    ) -> tuple[InteractionMatrix, str, CellChanges | None, ColumnTotals | None]:
        """Return the matrix of ``change.after``, how it was made (``incremental`` or ``full``), the cells changed.

        The builder's ``update`` brings the previous matrix up to date where the same builder
        (class and config) made it; a builder that answers ``None`` is built again. The changed
        cells are known where the builder reported them (a :class:`MatrixUpdate`), else ``None``;
        with them come the matrix's column totals, which the check of the merged items' rows
        compares (counted in the pass that checks the matrix).
        """
        builder, who = self.matrix, self._who(self.matrix)
        if fitted.built_by == (type(builder), builder.config):  # unknown (None): built again
            with checked_interactions(who, builtin=self._builtin(builder), data_faults=DATA_FAULTS):
                updated = self._call(builder, "update", fitted.matrix, change)
            cells = None
            if isinstance(updated, MatrixUpdate):  # the model keeps the plain matrix
                cells = updated.cells
                updated = updated.plain()
            if updated is not None:
                # with cells, the items' totals check them (and the merged items' rows)
                facts, totals = entry_facts(updated, columns=cells is not None, own=True)
                check_matrix(updated, who, facts=facts)
                check_updated_ids(updated, fitted.matrix, change, who)
                if cells is not None:
                    cells = check_cells(cells, (fitted.matrix.matrix.shape, updated.matrix.shape), who)
                return updated, "incremental", cells, totals
        with checked_interactions(who, builtin=self._builtin(builder), data_faults=DATA_FAULTS):
            built = self._call(builder, "build", change.after)
        facts = entry_facts(built, columns=True, own=True)[0]  # the column totals kept for the next update
        return check_matrix(built, who, change.after, facts), "full", None, None

    def _update_axis(
        self,
        fitted: _Fitted,
        updated: _Fitted,
        axis: str,
        graph: NeighbourGraph,
        row_map: np.ndarray,
        column_map: np.ndarray,
        cells: CellChanges | None,
    ) -> dict[str, Any]:
        """Bring `axis`'s neighbour graph up to date in `updated`; return what it took.

        The backend of the new rows is fitted only when a row must be searched (its prepared
        copy of every row costs 1-2 s on ML-20M, a seventh of a fit); until then the old fitted
        backend, of the same class and config, says how its neighbours can be updated.
        """
        old_rows, new_rows = self._rows(fitted, axis), self._rows(updated, axis)
        backend = fitted.backends.get(axis)
        if backend is None:
            backend = self._backend(updated, axis)
        measure = self._call(backend, "update_measure")
        broken = None
        if measure is not None and axis in fitted.lists:
            broken = broken_claim(fitted.lists[axis].graph, old_rows, measure)
            if broken is None:
                if cells is not None and axis == "items":
                    cells = cells.transposed()  # the rows are items
                lists = (old_rows, new_rows)
                return self._update_lists(fitted, updated, axis, measure, lists, row_map, column_map, cells)
            logger.warning("%s: %s; its neighbours are searched again in full", self._who(backend), broken)
        changed = changed_rows(old_rows, new_rows, row_map, column_map)
        obstacle = broken or self._call(backend, "update_obstacle", new_rows.shape[1] != old_rows.shape[1])
        template = fitted.similarity

        def search(rows: np.ndarray | None, width: int) -> NeighbourGraph:
            return self._search(updated, axis, rows, width)

        def search_among(queries: np.ndarray, targets: np.ndarray, width: int) -> NeighbourGraph:
            with calling(lambda: self._who(template), "__init__"):
                among = type(template)(template.config)
            self._call(among, "fit", _take_rows(new_rows, targets))
            found = self._call(among, "query", _take_rows(new_rows, queries), k=width)
            return check_graph(found, self._who(among), len(queries), len(targets))

        result = update_graph(graph, changed, row_map, template.config.k, search, search_among, obstacle)
        updated.graphs[axis] = check_graph(result.graph, f"the updated {axis[:-1]} neighbours", *(2 * (len(changed),)))
        return result.record()

    def _update_lists(
        self,
        fitted: _Fitted,
        updated: _Fitted,
        axis: str,
        measure: DeltaMeasure,
        rows: tuple[sp.csr_array, sp.csr_array],
        row_map: np.ndarray,
        column_map: np.ndarray,
        cells: CellChanges | None,
    ) -> dict[str, Any]:
        """Bring `axis`'s neighbour lists up to date from the change of the dot products (see :mod:`.graph_delta`).

        `rows` are the old and the new rows; `cells`, where the builder reported them, the
        changed entries in the rows' orientation.
        """
        old_rows, new_rows = rows
        config = fitted.similarity.config
        width = config.k + config.update_slack

        def search(rows: np.ndarray, size: int) -> NeighbourGraph:
            return self._search(updated, axis, rows, size)

        engine: Engine = getattr(config, "engine", "auto")  # a backend with an engine setting (sparse)
        threads: int | None = getattr(config, "threads", None)  # and a threads setting, as its fit honours
        other = self._rows(updated, "users" if axis == "items" else "items")  # new_rows transposed
        # old_rows transposed, where the fit made it (the users' rows always are; the items' once searched)
        old_other = self._rows(fitted, "users") if axis == "items" else fitted.item_rows
        result = update_lists(
            fitted.lists[axis],
            old_rows,
            new_rows,
            row_map,
            column_map,
            measure,
            config.k,
            width,
            search,
            engine,
            other,
            cells,
            old_other,
            threads=threads,
        )
        n_rows = new_rows.shape[0]
        if isinstance(result, str):
            updated.graphs[axis] = self._search_all(updated, axis)
            return GraphUpdate(updated.graphs[axis], result, n_rows, 0).record()
        updated.lists[axis] = result.lists
        updated.graphs[axis] = check_graph(
            result.lists.served(config.k), f"the updated {axis[:-1]} neighbours", n_rows, n_rows
        )
        _say_if_searched_much(axis, result.searched, n_rows, config.update_slack)
        return result.record()


SEARCHED_MUCH = 0.25
"""Above this share of a graph's rows searched again (of at least :data:`SEARCHED_MUCH_ROWS`), an
update costs a good part of a fit's search, and says why, once per process for each graph (see
:func:`_say_if_searched_much`)."""

SEARCHED_MUCH_ROWS = 1000
"""Graphs of fewer rows never warn: their search is cheap whatever its share."""

_WARNED_OF_SEARCHES: set[str] = set()
"""The axes whose updates warned of rows searched again in this process (a stream of updates would repeat it)."""


def _say_if_searched_much(axis: str, searched: int, n_rows: int, slack: int) -> None:
    """Warn (once per process for each graph, users' or items'; later at INFO) when an update searched much of it again.

    Rows are searched again when their neighbours' similarities lie so close together that the
    change leaves fewer than ``k`` of them certain: data without strong neighbourhoods (a
    structureless heavy tail, say). More slack keeps each row's floor further below its ``k``-th
    neighbour; docs/updating.md, "Rows searched again", has the measurements.
    """
    if n_rows < SEARCHED_MUCH_ROWS or searched <= SEARCHED_MUCH * n_rows:
        return
    level = logging.INFO if axis in _WARNED_OF_SEARCHES else logging.WARNING
    _WARNED_OF_SEARCHES.add(axis)
    logger.log(
        level,
        "the update searched %d of the %d %s rows again (%.0f%%), a good part of a full search's work: their "
        "neighbours' similarities lie close together, so the change left them fewer than k certain ones. A larger "
        "similarity.update_slack (now %d) keeps more of them settled, at some cost to the fit's time and memory; "
        'see docs/updating.md, "Rows searched again"',
        searched,
        n_rows,
        axis[:-1],
        100.0 * searched / n_rows,
        slack,
    )


def _empty(ids: object) -> bool:
    """Return whether `ids` is an empty sequence of ids (a list, an array, a Series; not one id, such as ``""``)."""
    try:
        return not isinstance(ids, str | bytes) and len(ids) == 0  # type: ignore[arg-type]
    except TypeError:  # one id, or what the ids' own check refuses (a 0-d array, say)
        return False


def _refusal(after: PendingEvents, events: int) -> DataError | None:
    """Return why a forget of `events` training events can't go on, once its worker found their events; or ``None``.

    An id of which no event was found (one a plugin's incremental update kept in its matrix, so
    that the check of the ids against the matrix let it through), or no event left.
    """
    for name, ids in after.absent().items():
        if len(ids):
            return not_in_training_data(ids, name)
    if not len(after):
        return DataError(f"forget would remove all {events} training events; nothing would remain to recommend from")
    return None


def _caused_by(error: BaseException, cause: BaseException) -> bool:
    """Return whether `cause` is `error` or among the exceptions that led to it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if current is cause:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _take_rows(rows: sp.csr_array, which: np.ndarray) -> sp.csr_array:
    """Return the rows `which` of `rows` as canonical CSR."""
    taken = sp.csr_array(rows[which])
    taken.sort_indices()
    return taken
