"""The contract mixins; see :mod:`recframe.testing`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.data import InteractionMatrix, Interactions
from recframe.errors import NotFittedError, short_repr
from recframe.interfaces import (
    KINDS,
    CandidateRanker,
    Component,
    DataSource,
    EventChange,
    Filter,
    MatrixBuilder,
    MatrixUpdate,
    Metric,
    MetricInput,
    NeighbourGraph,
    SimilarityBackend,
    Splitter,
    SupportsPredict,
)
from recframe.interfaces.checks import check_graph, check_matrix, check_split, check_topn
from recframe.recommender.filtering import apply_filters
from recframe.recommender.joined_events import joined_events
from recframe.registry import builtin_registry, describe_component
from recframe.testing.saved_state import round_trip_state


def random_interactions(
    n_users: int = 40, n_items: int = 30, density: float = 0.15, *, seed: int = 0, string_ids: bool = False
) -> Interactions:
    """Return random explicit interactions (ratings 1-5, timestamps), each pair once.

    Every user and every item has at least one interaction.
    """
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(n_items, size=n_users)] = True
    mask[rng.integers(n_users, size=n_items), np.arange(n_items)] = True
    users, items = np.nonzero(mask)
    ratings = rng.integers(1, 6, size=len(users)).astype(np.float64)
    times = 1_600_000_000 + rng.integers(0, 10_000_000, size=len(users)).astype(np.float64)
    if string_ids:
        return Interactions(np.char.add("u", users.astype(str)), np.char.add("i", items.astype(str)), ratings, times)
    return Interactions(users * 3 + 1, items * 7 + 2, ratings, times)


class ComponentContract:
    """Checks every component must pass. Set ``component`` and ``configs`` in the subclass."""

    component: ClassVar[type[Component]]
    configs: ClassVar[Sequence[Mapping[str, Any]]] = ({},)

    def instances(self) -> Iterator[Component]:
        """Yield one fresh instance of the component per entry of ``configs``."""
        for params in self.configs:
            yield self.component(**params)

    def test_config_round_trips(self) -> None:
        for params in self.configs:
            config = self.component.Config(**params)
            again = self.component.Config.model_validate(config.model_dump())
            assert again == config

    def test_config_rejects_unknown_keys(self) -> None:
        with pytest.raises(ValueError, match="not_a_parameter"):
            self.component.Config.model_validate({"not_a_parameter": 1})

    def test_declares_name_and_kind(self) -> None:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", self.component.name), "name must be short snake_case"
        assert self.component.kind in KINDS
        assert self.component.__doc__, "a component's docstring is its reference entry"

    def test_config_derives_from_its_kinds_base(self) -> None:
        from recframe.registry import kind_config

        base = kind_config(self.component)
        assert issubclass(self.component.Config, base), (
            f"{self.component.__name__}.Config must derive from {base.__name__}: the engine reads "
            f"{', '.join(base.model_fields) or 'nothing'} from every {self.component.kind}'s config"
        )


class DataSourceContract(ComponentContract):
    """Contract of data sources: non-empty interactions, the same for the same seed."""

    def test_loads_interactions_deterministically(self) -> None:
        for source in self.instances():
            assert isinstance(source, DataSource)
            first = source.load(np.random.default_rng(7))
            second = source.load(np.random.default_rng(7))
            assert isinstance(first, Interactions) and len(first) > 0
            assert first.fingerprint() == second.fingerprint()


class MatrixBuilderContract(ComponentContract):
    """Contract of matrix builders: a canonical float64 CSR matrix covering the data's ids."""

    def interactions(self) -> Interactions:
        """Return the interactions the builder is checked on; override for special needs."""
        return random_interactions()

    def test_builds_a_valid_matrix(self) -> None:
        data = self.interactions()
        for builder in self.instances():
            assert isinstance(builder, MatrixBuilder)
            matrix = check_matrix(builder.build(data), describe_component(builder), data)
            assert set(matrix.users.ids.tolist()) <= set(data.users.tolist())
            assert set(matrix.items.ids.tolist()) <= set(data.items.tolist())
            assert matrix.matrix.has_canonical_format

    def test_same_input_same_matrix(self) -> None:
        data = self.interactions()
        for builder in self.instances():
            assert isinstance(builder, MatrixBuilder)
            a, b = builder.build(data), builder.build(data)
            assert a.users == b.users and a.items == b.items
            assert (a.matrix != b.matrix).nnz == 0

    def test_an_update_equals_a_build(self) -> None:
        """``update`` gives what ``build`` gives on the events after (or ``None``), and its cells say what changed."""
        data = self.interactions()
        n = len(data)
        before = data.take(np.arange(n - n // 5))
        late = data.take(np.arange(n - n // 5, n))
        if late.timestamps is not None and before.timestamps is not None:  # new events are not older than old ones
            late = Interactions(late.users, late.items, late.values, late.timestamps + before.timestamps.max())
        forgotten, gone_items = np.unique(before.users)[:2], np.unique(before.items)[:2]
        # after an earlier update, a model's events are joined only when read (as `before` and
        # `after` here: parts, joined when a builder reads a column)
        half = len(before) // 2
        joined_before = joined_events(before.take(np.arange(half)), before.take(np.arange(half, len(before))))
        # old cells rated again (a new value under the duplicate policy), and events older than the old ones
        again = before.take(np.arange(min(10, len(before))))
        if again.values is not None:
            again = Interactions(again.users, again.items, again.values + 1.0, again.timestamps)
        if again.timestamps is not None and late.timestamps is not None:
            again = Interactions(again.users, again.items, again.values, late.timestamps[: len(again)])
        older = Interactions.concat(again, late)  # some on old cells, where `last` and `first` must keep time
        if older.timestamps is not None and before.timestamps is not None:
            earliest = before.timestamps.min() - 1.0 - np.arange(len(older))
            older = Interactions(older.users, older.items, older.values, earliest)

        def removing(users: np.ndarray, items: np.ndarray) -> EventChange:
            after = before.take(~np.isin(before.users, users) & ~np.isin(before.items, items))
            return EventChange(before, after, removed_users=users, removed_items=items)

        changes = {
            "adding events": EventChange(before, Interactions.concat(before, late), added=late),
            "forgetting users": removing(forgotten, before.items[:0]),
            "forgetting items": removing(before.users[:0], gone_items),
            "forgetting users and items": removing(forgotten, gone_items),
            "adding events to joined parts": EventChange(joined_before, joined_events(joined_before, late), added=late),
            "rating old cells again": EventChange(before, Interactions.concat(before, again), added=again),
            "adding older events": EventChange(before, Interactions.concat(before, older), added=older),
        }
        for builder in self.instances():
            assert isinstance(builder, MatrixBuilder)
            previous = builder.build(before)
            for what, change in changes.items():
                updated = builder.update(previous, change)
                if updated is None:
                    continue
                built = builder.build(change.after)
                for axis in ("users", "items"):
                    assert getattr(updated, axis) == getattr(built, axis), (
                        f"{what}: update() and build() of the events after differ in their {axis}: "
                        f"{_ids_differ(getattr(updated, axis).ids, getattr(built, axis).ids)}"
                    )
                assert (updated.matrix != built.matrix).nnz == 0, f"{what}: update() and build() differ in the matrix"
                if isinstance(updated, MatrixUpdate):
                    _assert_cells_account_for(previous, updated)


def _ids_differ(updated: np.ndarray, built: np.ndarray) -> str:
    """Say how the ids of an update differ from those of a build: which are missing, which extra, or the order."""
    missing, extra = np.setdiff1d(built, updated), np.setdiff1d(updated, built)
    parts = [
        f"{name} {short_repr(ids[:5].tolist())}" + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        for name, ids in (("missing", missing), ("extra", extra))
        if len(ids)
    ]
    if not parts:  # the same set: repeated ids, or another order
        parts = [f"{len(updated)} ids instead of {len(built)}" if len(updated) != len(built) else "another order"]
    return "; ".join(parts)


def _assert_cells_account_for(previous: InteractionMatrix, updated: MatrixUpdate) -> None:
    """Assert that `previous` renumbered, with the reported cells set, is the updated matrix (every change listed)."""
    cells = updated.cells
    for name in ("previous_rows", "previous_columns", "rows", "columns", "before", "after"):
        assert len(getattr(cells, name)) == len(cells.rows), f"the cells' {name} differ in length"
    row_map = np.searchsorted(updated.users.ids, previous.users.ids)
    column_map = np.searchsorted(updated.items.ids, previous.items.ids)
    row_map = np.where(updated.users.rows(previous.users.ids, missing="mark") >= 0, row_map, -1)
    column_map = np.where(updated.items.rows(previous.items.ids, missing="mark") >= 0, column_map, -1)
    placed = (cells.rows >= 0) & (cells.columns >= 0)
    expected = sp.lil_array(updated.matrix.shape)
    old = previous.matrix.tocoo()
    kept = (row_map[old.row] >= 0) & (column_map[old.col] >= 0)
    expected[row_map[old.row[kept]], column_map[old.col[kept]]] = old.data[kept]
    expected[cells.rows[placed], cells.columns[placed]] = cells.after[placed]
    difference = sp.csr_array(expected) - updated.matrix
    assert abs(difference).sum() == 0, "the matrix changed in cells the update did not list"


def _training_matrix(seed: int = 0) -> InteractionMatrix:
    return _ratings().build(random_interactions(seed=seed))


def _ratings() -> MatrixBuilder:
    """Return the built-in ``ratings`` matrix builder (looked up by name: no built-in is imported)."""
    return builtin_registry().create("matrix", "ratings", MatrixBuilder)


class SimilarityContract(ComponentContract):
    """Contract of similarity backends: k neighbours per row, never itself, best first."""

    def test_query_before_fit_raises(self) -> None:
        for backend in self.instances():
            with pytest.raises(NotFittedError):
                backend.neighbours()  # type: ignore[attr-defined]

    def test_neighbours(self) -> None:
        rows = _training_matrix().item_major()
        for backend in self.instances():
            assert isinstance(backend, SimilarityBackend)
            assert backend.fit(rows) is backend
            graph = check_graph(backend.neighbours(), describe_component(backend), rows.shape[0], rows.shape[0])
            assert graph.k <= backend.config.k
            assert not np.any(graph.indices == np.arange(rows.shape[0])[:, None]), "a row is its own neighbour"
            real = graph.indices >= 0
            assert not np.any(real[:, 1:] & ~real[:, :-1]), "padding must come last"
            assert not np.any(real[:, 1:] & (graph.scores[:, 1:] > graph.scores[:, :-1])), "not best first"
            again = type(backend)(backend.config).fit(rows).neighbours()
            np.testing.assert_array_equal(graph.indices, again.indices)
            np.testing.assert_array_equal(graph.scores, again.scores)

    def test_subset_of_rows_matches_all_rows(self) -> None:
        rows = _training_matrix().item_major()
        for backend in self.instances():
            assert isinstance(backend, SimilarityBackend)
            backend.fit(rows)
            full = backend.neighbours()
            picked = np.array([3, 0, 5])
            part = backend.neighbours(picked)
            np.testing.assert_array_equal(part.indices, full.indices[picked])
            np.testing.assert_allclose(part.scores, full.scores[picked])

    def test_state_round_trips(self) -> None:
        """A new instance given the fitted state (as a saved model stores it) finds the same neighbours."""
        matrix = _training_matrix()
        rows = matrix.item_major()
        for backend in self.instances():
            assert isinstance(backend, SimilarityBackend)
            backend.fit(rows)
            restored = round_trip_state(backend)
            for a, b in ((backend.neighbours(), restored.neighbours()),
                         (backend.query(rows[:4]), restored.query(rows[:4]))):
                np.testing.assert_array_equal(a.indices, b.indices)
                np.testing.assert_array_equal(a.scores, b.scores)


    def test_row_by_row_update_promise(self) -> None:
        """A backend that allows row-by-row updates finds the same similarities among any subset of rows.

        ``Recommender.update`` relies on it (see ``SimilarityBackend.update_obstacle``): the
        neighbours of rows among a subset, found by a backend fitted on the subset alone, have
        the similarities a search over all rows gives them.
        """
        rows = _training_matrix().item_major()
        n = rows.shape[0]
        queries, targets = np.arange(0, n, 3), np.setdiff1d(np.arange(n), np.arange(0, n, 3))
        for backend in self.instances():
            assert isinstance(backend, SimilarityBackend)
            if backend.update_obstacle(False) is not None:
                continue
            everything = _entries(backend.fit(rows).neighbours(queries, k=n - 1), queries)
            subset = type(backend)(backend.config).fit(sp.csr_array(rows[targets]))
            among = subset.query(sp.csr_array(rows[queries]), k=len(targets))
            found = {(q, int(targets[t])): s for (q, t), s in _entries(among, queries).items()}
            expected = {pair: s for pair, s in everything.items() if pair[1] in set(targets.tolist())}
            assert found.keys() == expected.keys(), "the subset search finds other neighbours"
            for pair, score in expected.items():
                assert abs(found[pair] - score) <= 1e-9, f"rows {pair}: {found[pair]} in the subset, {score} in all"


    def test_update_measure_promise(self) -> None:
        """A backend that says its similarity is the cosine (or dot product) of the rows finds exactly that.

        ``Recommender.update`` then maintains its neighbours from the change of each pair's dot
        product (see ``SimilarityBackend.update_measure``): a backend whose similarity is
        another would be updated to wrong neighbours. Every positive similarity of a small
        matrix, computed by brute force, must be listed with ``k`` of all rows, and nothing else.
        """
        rows = _training_matrix().item_major()
        n = rows.shape[0]
        dense = rows.toarray()
        for backend in self.instances():
            assert isinstance(backend, SimilarityBackend)
            measure = backend.update_measure()
            if measure is None:
                continue
            similarity = dense @ dense.T
            if measure == "cosine":
                lengths = np.linalg.norm(dense, axis=1)
                outer = np.outer(lengths, lengths)
                similarity = np.divide(similarity, outer, out=np.zeros_like(similarity), where=outer > 0)
            np.fill_diagonal(similarity, 0.0)
            found = _entries(backend.fit(rows).neighbours(k=n - 1), np.arange(n))
            positive = zip(*np.nonzero(similarity > 1e-12), strict=True)
            expected = {(int(i), int(j)): float(similarity[i, j]) for i, j in positive}
            name = describe_component(backend)
            assert found.keys() == expected.keys(), f"{name} says its similarity is the {measure}, but lists others"
            for pair, score in expected.items():
                assert abs(found[pair] - score) <= 1e-9, f"{name}, rows {pair}: {found[pair]}, the {measure} is {score}"


def _entries(graph: NeighbourGraph, queries: np.ndarray) -> dict[tuple[int, int], float]:
    """Return a graph's (query row, neighbour) pairs and their scores."""
    present = graph.indices >= 0
    rows = np.broadcast_to(queries[:, None], graph.indices.shape)[present]
    pairs = zip(rows.tolist(), graph.indices[present].tolist(), strict=True)
    return dict(zip(pairs, graph.scores[present].tolist(), strict=True))


class RankerContract(ComponentContract):
    """Contract of candidate rankers: sorted top-n lists of valid, unseen items."""

    def fitted(self, ranker: CandidateRanker, seed: int = 0) -> InteractionMatrix:
        """Fit `ranker` on a random matrix (with the graph it asks for) and return the matrix."""
        matrix = _training_matrix(seed)
        graph = None
        if ranker.neighbour_axis is not None:
            rows = matrix.matrix if ranker.neighbour_axis == "users" else matrix.item_major()
            backend = builtin_registry().create("similarity", "sklearn_nn", SimilarityBackend, k=10)
            graph = backend.fit(rows).neighbours()
        assert ranker.fit(matrix, graph) is ranker
        return matrix

    def test_recommend_before_fit_raises(self) -> None:
        for ranker in self.instances():
            with pytest.raises(NotFittedError):
                ranker.recommend(np.array([0]))  # type: ignore[attr-defined]

    def test_lists_are_valid(self) -> None:
        for ranker in self.instances():
            assert isinstance(ranker, CandidateRanker)
            matrix = self.fitted(ranker)
            users = np.arange(matrix.n_users)
            n = ranker.config.n
            top = check_topn(ranker.recommend(users), describe_component(ranker), len(users), n, matrix.n_items)
            real = top.items >= 0
            for u in range(len(users)):
                row = top.items[u][real[u]]
                assert len(set(row.tolist())) == len(row), "an item is listed twice"
            if ranker.config.exclude_seen:
                dense = matrix.matrix.toarray()
                seen = np.take_along_axis(dense, np.where(real, top.items, 0), axis=1)
                assert not np.any(seen[real]), "a seen item was recommended"

    def test_explicit_exclusions_are_respected(self) -> None:
        for ranker in self.instances():
            assert isinstance(ranker, CandidateRanker)
            matrix = self.fitted(ranker)
            users = np.arange(5)
            first = ranker.recommend(users)
            top_items = np.where(first.items[:, 0] >= 0, first.items[:, 0], 0)
            exclude = sp.csr_array(
                (np.ones(len(users)), (np.arange(len(users)), top_items)), shape=(len(users), matrix.n_items)
            )
            second = ranker.recommend(users, exclude=exclude)
            assert not np.any((second.items == top_items[:, None]) & (first.items[:, :1] >= 0))

    def test_unknown_users_do_not_fail(self) -> None:
        for ranker in self.instances():
            assert isinstance(ranker, CandidateRanker)
            matrix = self.fitted(ranker)
            top = ranker.recommend(np.array([-1, 0]), 3)
            check_topn(top, describe_component(ranker), 2, 3, matrix.n_items)

    def test_same_fit_same_lists(self) -> None:
        for params in self.configs:
            a, b = self.component(**params), self.component(**params)
            assert isinstance(a, CandidateRanker) and isinstance(b, CandidateRanker)
            self.fitted(a)
            self.fitted(b)
            users = np.arange(10)
            np.testing.assert_array_equal(a.recommend(users).items, b.recommend(users).items)

    def test_state_round_trips(self) -> None:
        """A new instance given the fitted state (as a saved model stores it) answers the same."""
        for ranker in self.instances():
            assert isinstance(ranker, CandidateRanker)
            matrix = self.fitted(ranker)
            restored = round_trip_state(ranker)
            users = np.r_[np.arange(min(10, matrix.n_users)), -1]
            before, after = ranker.recommend(users), restored.recommend(users)
            np.testing.assert_array_equal(before.items, after.items)
            np.testing.assert_array_equal(before.scores, after.scores)
            if isinstance(ranker, SupportsPredict):
                items = np.arange(len(users)) % matrix.n_items
                assert isinstance(restored, SupportsPredict)
                expected = ranker.predict(users, items).values
                np.testing.assert_array_equal(expected, restored.predict(users, items).values)


class FilterContract(ComponentContract):
    """Contract of filters: a subset of the events, in their original order, the same every time."""

    def test_keeps_a_subset_in_order(self) -> None:
        data = random_interactions()
        assert data.timestamps is not None

        def events(part: Interactions) -> list[tuple[Any, Any, Any]]:
            times = np.zeros(len(part)) if part.timestamps is None else part.timestamps
            return list(zip(part.users.tolist(), part.items.tolist(), times.tolist(), strict=True))

        for component in self.instances():
            assert isinstance(component, Filter)
            # as the engine calls it: the input read-only, the result checked to be a subset of it
            kept, _ = apply_filters(data, [component], [describe_component(component)])
            assert isinstance(kept, Interactions) and 0 < len(kept) <= len(data)
            rows = events(kept)
            position = iter(events(data))
            assert all(any(row == event for event in position) for row in rows)  # a subsequence
            assert component.apply(data).fingerprint() == kept.fingerprint()


class SplitterContract(ComponentContract):
    """Contract of splitters: every event in exactly one part; the same seed, the same split."""

    def test_split_partitions_the_events(self) -> None:
        data = random_interactions()
        for splitter in self.instances():
            assert isinstance(splitter, Splitter)
            parts = splitter.split(data, np.random.default_rng(3))
            train, test = check_split(parts, describe_component(splitter), len(data))
            assert len(train) > 0 and len(test) > 0
            def keys(part: Interactions) -> list[tuple[int, int]]:
                return sorted(zip(part.users.tolist(), part.items.tolist(), strict=True))
            assert sorted(keys(train) + keys(test)) == keys(data)

    def test_same_seed_same_split(self) -> None:
        data = random_interactions()
        for splitter in self.instances():
            assert isinstance(splitter, Splitter)
            a = splitter.split(data, np.random.default_rng(3))
            b = splitter.split(data, np.random.default_rng(3))
            assert a[1].fingerprint() == b[1].fingerprint()

    def test_every_fold_partitions_the_events(self) -> None:
        data = random_interactions()
        for splitter in self.instances():
            assert isinstance(splitter, Splitter)
            tested = 0
            for train, test in splitter.folds(data, np.random.default_rng(4)):
                check_split((train, test), describe_component(splitter), len(data))
                tested += len(test)
            assert tested <= len(data)

    def test_time_order_is_respected(self) -> None:
        data = random_interactions()
        for splitter in self.instances():
            assert isinstance(splitter, Splitter)
            train, test = splitter.split(data, np.random.default_rng(5))
            assert train.timestamps is not None and test.timestamps is not None
            if splitter.ordering == "global_time":
                assert test.timestamps.min() > train.timestamps.max()
            if splitter.ordering == "per_user_time":
                for user in np.unique(test.users):
                    latest_train = train.timestamps[train.users == user].max()
                    assert test.timestamps[test.users == user].min() >= latest_train


def random_metric_input(n_users: int = 50, n: int = 12, n_items: int = 40, *, seed: int = 0) -> MetricInput:
    """Return a :class:`MetricInput` of random ranked lists against random rated held-out items.

    The training matrix comes from :func:`random_interactions`; some lists are shorter than
    `n`, some held-out items are unseen in training, and ratings give graded gains.
    """
    from recframe.evaluation import held_out, metric_input

    rng = np.random.default_rng(seed)
    train = _ratings().build(random_interactions(n_users, n_items, seed=seed))
    n_pairs = n_users * 4
    test_items = np.where(rng.random(n_pairs) < 0.1, -5, train.items.ids[rng.integers(n_items, size=n_pairs)])
    test = Interactions(
        train.users.ids[rng.integers(n_users, size=n_pairs)], test_items, rng.integers(1, 6, size=n_pairs) * 1.0
    )
    held = held_out(test, train.items)
    ranked = np.argsort(rng.random((len(held.users), n_items)), axis=1)[:, :n].astype(np.int64)
    ranked[rng.random(ranked.shape) < 0.1 * (np.arange(n) / n)] = -1  # some short lists
    ranked = np.where(np.maximum.accumulate(ranked < 0, axis=1), -1, ranked)
    return metric_input(held, held.users, ranked, train, n)


class MetricContract(ComponentContract):
    """Contract of metrics: finite values of the declared shape and bounds, independent of user order.

    Each setting in ``configs`` must have its own ``label``: the label is the metric's column in
    reports, so two settings sharing one would overwrite each other.
    """

    def test_distinct_settings_have_distinct_labels(self) -> None:
        labels: dict[str, Mapping[str, Any]] = {}
        for metric in self.instances():
            assert isinstance(metric, Metric)
            dumped = metric.config.model_dump()
            other = labels.setdefault(metric.label, dumped)
            assert other == dumped, f"settings {other} and {dumped} share the label {metric.label!r}"

    def test_values(self) -> None:
        data = random_metric_input()
        for metric in self.instances():
            assert isinstance(metric, Metric)
            values = np.asarray(metric.compute(data), dtype=np.float64)
            assert values.shape == ((data.n_users,) if metric.per_user else ())
            low, high = metric.bounds
            assert np.all(np.isfinite(values)) and np.all((values >= low) & (values <= high))
            np.testing.assert_array_equal(np.asarray(metric.compute(data)), values)

    def test_user_order_does_not_matter(self) -> None:
        data = random_metric_input(seed=1)
        order = np.random.default_rng(2).permutation(data.n_users)
        shuffled = MetricInput(
            data.items[order], data.hits[order], data.gains[order], data.n_relevant[order],
            data.ideal_gains[order], data.train,
        )
        for metric in self.instances():
            assert isinstance(metric, Metric)
            values = np.asarray(metric.compute(data), dtype=np.float64)
            again = np.asarray(metric.compute(shuffled), dtype=np.float64)
            expected = values[order] if metric.per_user else values
            assert np.allclose(again, expected, rtol=1e-12, atol=0.0)
