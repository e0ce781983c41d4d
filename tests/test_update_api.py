"""``update`` and ``forget``: hand-checked pieces, lineage, saved models, and bad input that changes nothing."""

from __future__ import annotations

import hashlib
import importlib
import json
import pickle
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import (
    DataError,
    EventChange,
    IdIndex,
    InteractionMatrix,
    Interactions,
    NeighbourGraph,
    NotFittedError,
    RecframeError,
    Recommender,
)
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.recommender import graph_update
from recframe.recommender.graph_update import update_graph
from recframe.recommender.row_changes import changed_rows, position_map
from recframe.recommender.updating import NEW_GRAPH
from recframe.testing import assert_same_neighbours, random_interactions


def test_position_map_keeps_order_and_marks_gone_ids() -> None:
    old, new = IdIndex([2, 5, 9, 11]), IdIndex([1, 2, 6, 9, 11, 12])
    np.testing.assert_array_equal(position_map(old, new), [1, -1, 3, 4])
    assert position_map(IdIndex(["a", "c"]), IdIndex(["a", "b"])).tolist() == [0, -1]


def test_kept_ids_narrow_only_where_a_left_out_id_set_the_width() -> None:
    index = IdIndex(["a", "bbb", "cc"])
    assert index.kept(np.array([True, False, True])).ids.tolist() == ["a", "cc"]
    assert index.kept(np.array([True, False, True])).ids.dtype == np.dtype("<U2")
    assert index.kept(np.array([False, True, True])).ids.dtype == np.dtype("<U3")  # "bbb" is kept
    assert index.kept(np.array([True, True, False])).ids.dtype == np.dtype("<U3")
    wide = IdIndex(np.array(["a", "bb"], dtype="<U5"))  # the data's own type: no left-out id set it
    assert wide.kept(np.array([True, False])).ids.dtype == np.dtype("<U5")
    numbers = IdIndex([3, 70000]).kept(np.array([True, False]))
    assert numbers.ids.tolist() == [3] and numbers.ids.dtype == np.int64 and not numbers.ids.flags.writeable


def test_changed_rows_by_hand() -> None:
    # old columns (ids 10, 20, 30); new columns (ids 10, 15, 20, 30): old column c -> [0, 2, 3][c]
    old = sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0], [4, 0, 0], [0, 0, 5]]))
    new = sp.csr_array(
        np.array(
            [
                [1.0, 0, 0, 2],  # old row 0, same entries in the moved columns: unchanged
                [0, 0, 3, 0],  # old row 1: unchanged
                [0, 1, 0, 0],  # a new row
                [4, 0, 0, 0.5],  # old row 2 with one more entry: changed
            ]
        )
    )
    row_map = np.array([0, 1, 3, -1])  # old row 3 is gone
    column_map = np.array([0, 2, 3])
    assert changed_rows(old, new, row_map, column_map).tolist() == [False, False, True, True]
    new.data[0] = 1.5  # a changed value
    assert changed_rows(old, new, row_map, column_map).tolist() == [True, False, True, True]


def _cosine_graph(rows: np.ndarray, k: int) -> NeighbourGraph:
    """Brute-force cosine neighbours: best first, ties by lower row, no zero similarities."""
    norms = np.linalg.norm(rows, axis=1)
    sims = rows @ rows.T / np.outer(norms, norms)
    np.fill_diagonal(sims, 0.0)
    n = len(rows)
    width = min(k, n - 1)
    indices = np.full((n, width), -1)
    scores = np.zeros((n, width))
    for r in range(n):
        order = np.lexsort((np.arange(n), -sims[r]))[:width]
        keep = sims[r, order] > 0
        indices[r, : keep.sum()] = order[keep]
        scores[r, : keep.sum()] = sims[r, order][keep]
    return NeighbourGraph(indices, scores, n)


def test_update_graph_equals_a_full_search_by_brute_force() -> None:
    rng = np.random.default_rng(3)
    old_rows = rng.random((30, 12)) * (rng.random((30, 12)) < 0.4)
    old_rows[old_rows.sum(axis=1) == 0, 0] = 1.0
    new_rows = np.vstack([old_rows[:20], rng.random((3, 12)), old_rows[21:]])  # row 20 dropped, 3 added
    new_rows[5, 3] += 2.0  # a changed row
    row_map = np.r_[np.arange(20), -1, np.arange(23, 32)]
    changed = np.zeros(len(new_rows), dtype=bool)
    changed[[5, 20, 21, 22]] = True
    k = 4

    def search(rows: np.ndarray | None, width: int) -> NeighbourGraph:
        full = _cosine_graph(new_rows, k)
        picked = np.arange(len(new_rows)) if rows is None else rows
        return NeighbourGraph(full.indices[picked], full.scores[picked], len(new_rows))

    def search_among(queries: np.ndarray, targets: np.ndarray, width: int) -> NeighbourGraph:
        a, b = new_rows[queries], new_rows[targets]
        sims = a @ b.T / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
        order = np.lexsort((np.broadcast_to(np.arange(len(targets)), sims.shape), -sims), axis=1)[:, :width]
        return NeighbourGraph(order, np.take_along_axis(sims, order, axis=1), len(targets))

    result = update_graph(_cosine_graph(old_rows, k), changed, row_map, k, search, search_among)
    assert result.reason is None
    assert result.merged > 0
    assert_same_neighbours(result.graph, _cosine_graph(new_rows, k))


def test_too_many_changed_rows_search_everything() -> None:
    rows = np.eye(4) + 0.1
    graph = _cosine_graph(rows, 2)

    def search(rows_: np.ndarray | None, width: int) -> NeighbourGraph:
        assert rows_ is None
        return graph

    result = update_graph(graph, np.ones(4, dtype=bool), np.arange(4), 2, search, lambda *a: graph)
    assert result.reason == "4 of 4 rows changed, so one full search costs less"
    assert result.record() == {"mode": "full", "rows_searched": 4, "rows_merged": 0, "reason": result.reason}


@pytest.fixture
def fitted() -> Recommender:
    return Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=1))


def test_lineage_records_every_change(fitted: Recommender) -> None:
    base = fitted.lineage
    assert base == [{"kind": "fit", "events": len(random_interactions(seed=1)), "fingerprint": fitted.data_fingerprint}]
    fitted.update({"user": [1, 1000], "item": [2, 9999], "rating": [4.0, 5.0], "timestamp": [1.7e9, 1.7e9]})
    entry = fitted.lineage[-1]
    assert entry["kind"] == "update"
    assert (entry["events"], entry["users_added"], entry["items_added"]) == (2, 1, 1)
    assert entry["neighbours"]["items"]["mode"] in ("delta", "incremental", "full")
    fitted.forget(users=[1000])
    entry = fitted.lineage[-1]
    assert (entry["kind"], entry["users"], entry["events"], entry["users_removed"]) == ("forget", 1, 1, 1)
    assert "1000" not in json.dumps(entry)
    assert "fingerprint" not in entry  # not even a digest: a guess of the ids could confirm it
    assert len(fitted.lineage) == 3
    assert fitted.data_fingerprint != base[0]["fingerprint"]


def test_a_forget_leaves_no_digest_that_could_confirm_a_guess(fitted: Recommender, tmp_path: Path) -> None:
    """A small update's digest, or the chained fingerprint before a forget, would confirm a guess of its events."""
    guess = Interactions([7777], [5], [3.0], [1.7e9])
    fitted.update(guess)
    assert fitted.lineage[1]["fingerprint"] == guess.fingerprint()  # until the forget, the update is identified
    before = fitted.data_fingerprint
    twin = Recommender.load(fitted.save(tmp_path / "twin"))
    fitted.forget(users=[7777])
    twin.forget(users=[7777])
    saved = Recommender.load(fitted.save(tmp_path / "m"))
    for rec in (fitted, saved):
        assert [entry.get("fingerprint") for entry in rec.lineage] == [None, None, None]
        assert guess.fingerprint() not in json.dumps(rec.lineage) + rec.data_fingerprint
    # the chain's forget step is salted: the fingerprint before it can't be checked against the one after
    unsalted = hashlib.sha256(f"{before}\nforget:1:0:1".encode()).hexdigest()
    assert fitted.data_fingerprint not in (unsalted, twin.data_fingerprint)


def test_forgotten_ids_are_gone(fitted: Recommender) -> None:
    fitted.forget(users=[4], items=[2])
    matrix = fitted.interaction_matrix
    assert 4 not in matrix.users.ids.tolist()
    assert 2 not in matrix.items.ids.tolist()
    assert 2 not in fitted.recommend([1], n=30).ids.ravel().tolist()


def test_a_forget_leaves_no_trace_of_the_length_of_forgotten_ids(tmp_path: Path) -> None:
    # numpy stores text ids at the longest one's width: kept as they were, the arrays would tell how long a
    # forgotten id was (the user's, and the item only that user had), where a refit on what is left can't
    rng = np.random.default_rng(3)
    base = {"user": [f"u{u}" for u in rng.integers(0, 9, 80)], "item": [f"i{i}" for i in rng.integers(0, 7, 80)]}
    config = {"similarity": {"type": "sparse", "k": 3}}
    rec = Recommender.from_config(config).fit(base)
    rec.update({"user": ["a-long-secret-user", "a-long-secret-user"], "item": ["i1", "an-item-only-they-had"]})
    assert rec.interaction_matrix.users.ids.dtype == np.dtype("<U18")
    rec.forget(users=["a-long-secret-user"])
    refit = Recommender.from_config(config).fit(base)
    for model in (rec, Recommender.load(rec.save(tmp_path / "forgot"))):
        assert model.interaction_matrix.users.ids.dtype == model.interaction_matrix.items.ids.dtype == np.dtype("<U2")
    refit.save(tmp_path / "refit")
    forgot, fitted = ({path.name[4:]: np.load(path).dtype for path in (tmp_path / name / "arrays").iterdir()}
                      for name in ("forgot", "refit"))  # fmt: skip
    assert {name: forgot[name] for name in fitted} == fitted  # (the update left suspects beside them)
    assert {dtype for dtype in forgot.values() if dtype.kind == "U"} == {np.dtype("<U2")}
    # ids as wide as the type only where the data came that way: a forget of a shorter id leaves the type alone
    wide = Recommender.from_config(config).fit({key: np.array(ids, dtype="<U9") for key, ids in base.items()})
    wide.forget(users=["u1"])
    kept = {np.load(path).dtype for path in (wide.save(tmp_path / "wide") / "arrays").glob("*users*")}
    assert wide.interaction_matrix.users.ids.dtype == np.dtype("<U9")
    assert kept == {np.dtype("<U9")}  # the matrix's and the training events'


def test_saved_updated_model_answers_like_the_live_one(fitted: Recommender, tmp_path: Path) -> None:
    fitted.update({"user": [1, 7], "item": [9, 16], "rating": [1.0, 2.0], "timestamp": [1.7e9, 1.7e9]})
    loaded = Recommender.load(fitted.save(tmp_path / "m"))
    assert loaded.lineage == fitted.lineage
    assert loaded.data_fingerprint == fitted.data_fingerprint
    users = fitted.interaction_matrix.users.ids
    assert loaded.recommend(users, n=5).to_dict() == fitted.recommend(users, n=5).to_dict()
    more = {"user": [4], "item": [23], "rating": [3.0], "timestamp": [1.8e9]}
    loaded.update(more)
    fitted.update(more)
    assert loaded.recommend(users, n=5).to_dict() == fitted.recommend(users, n=5).to_dict()


def test_training_interactions_are_the_fits_with_each_change_and_a_refit_on_them_equals_the_model(
    fitted: Recommender, tmp_path: Path
) -> None:
    base = random_interactions(seed=1)
    with pytest.raises(NotFittedError):
        _ = Recommender.from_config({}).training_interactions
    assert len(fitted.training_interactions) == len(base)
    added = {"user": [1, 1000, 1000], "item": [2, 9999, 3], "rating": [4.0, 5.0, 1.0], "timestamp": [1.7e9] * 3}
    fitted.update(added)
    gone = int(next(u for u in base.users if u not in added["user"]))
    fitted.forget(users=[gone])
    events = fitted.training_interactions
    keep = base.users != gone
    expected = (  # the fit's events in their order, then the update's, less the forgotten user's
        np.r_[base.users[keep], added["user"]],
        np.r_[base.items[keep], added["item"]],
        np.r_[base.values[keep], added["rating"]],
    )
    for got, want in zip((events.users, events.items, events.values), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not events.users.flags.writeable  # the model's own: not to be changed in place
    refit = Recommender.from_config(fitted.to_config()).fit(events)
    assert refit.interaction_matrix.nnz == fitted.interaction_matrix.nnz  # (a chained fingerprint)
    assert_same_neighbours(fitted.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)
    loaded = Recommender.load(fitted.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.training_interactions.items, events.items)
    small = Recommender.load(fitted.save(tmp_path / "small", training_data=False))
    with pytest.raises(RecframeError, match=r"can't give the training interactions: .*training_data=False"):
        _ = small.training_interactions


def test_warm_up_runs_the_compiled_passes_of_large_data_and_changes_nothing(
    fitted: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recframe.engine.cells as cells_module
    from recframe.recommender import kernel_warm_up

    # the merges' threshold alone: the other kernels at every size cost 20 s of compiling on an
    # empty cache, which the update benchmark's smoke run in .ci/run pays instead (its warm-up)
    monkeypatch.setattr(kernel_warm_up, "SIZE_THRESHOLDS", (("recframe.engine.cells", "COMPILED_MIN_ENTRIES"),))
    merges: list[int] = []
    real_merge = cells_module._merge_compiled
    monkeypatch.setattr(cells_module, "_merge_compiled", lambda *a, **k: merges.append(1) or real_merge(*a, **k))

    def thresholds() -> list[float]:
        return [getattr(importlib.import_module(module), name) for module, name in kernel_warm_up.SIZE_THRESHOLDS]

    lineage, before = fitted.lineage, thresholds()
    assert fitted.warm_up() is fitted
    assert merges  # the update's merges ran compiled, at 6,000 events (from 2^20 otherwise)
    assert fitted.lineage == lineage
    assert thresholds() == before and min(before) > 0
    # a run file's sections that read data or write files are left out: its data file need not exist
    config = {**fitted.to_config(), "data": {"type": "csv", "path": "no/such/file.csv"}, "output": {"dir": "nowhere"}}
    kernel_warm_up.warm_up_kernels(config, Recommender.from_config)
    assert not Path("nowhere").exists()


def test_model_saved_without_training_data_refuses_updates(fitted: Recommender, tmp_path: Path) -> None:
    small = Recommender.load(fitted.save(tmp_path / "small", training_data=False))
    full = fitted.save(tmp_path / "full")
    assert sum(f.stat().st_size for f in (tmp_path / "small").iterdir()) < sum(f.stat().st_size for f in full.iterdir())
    with pytest.raises(RecframeError, match="saved without its training data"):
        small.update({"user": [1], "item": [2], "rating": [3.0], "timestamp": [1.0]})
    with pytest.raises(RecframeError, match="saved without its training data"):
        small.forget(users=[1])


BAD_UPDATES = [
    (
        {"user": [1], "item": [2], "rating": [3.0], "timestamp": [1.0], "colour": ["red"]},
        r"unknown column.*colour.*this model has the columns \['user', 'item', 'rating', 'timestamp'\]",
    ),
    ({"user": ["a"], "item": [2], "rating": [3.0], "timestamp": [1.0]}, "user ids are text.*the model's are integers"),
    ({"user": [1], "item": [2], "timestamp": [1.0]}, "ratings but the update has none.*: give each event a rating$"),
    ({"user": [1], "item": [2], "rating": [3.0]}, "timestamps but the update has none.*: give each event a timestamp$"),
    ({"user": [], "item": [], "rating": [], "timestamp": []}, "no interactions"),
    ({"user": [1], "item": [2], "rating": [float("nan")], "timestamp": [1.0]}, "^update: .*nan"),
    ({"user": [1], "item": [2, 3], "rating": [3.0], "timestamp": [1.0]}, "^update: .*differ in length"),
    ({"item": [2], "rating": [3.0], "timestamp": [1.0]}, "lacks the column"),
    ({"user": [1], "item": [2], "rating": [3.0], "value": [3.0], "timestamp": [1.0]}, "both a 'rating' and a 'value'"),
]


def test_an_update_with_a_column_the_training_data_lacks_says_to_leave_it_out() -> None:
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}})
    rec.fit({"user": [1, 1, 2, 3], "item": [1, 2, 2, 1], "rating": [4.0, 3.0, 5.0, 2.0]})
    before = rec._state()
    with pytest.raises(DataError, match=(
        r"^update: the update has timestamps but the model's training data has none; an update has the same "
        r"columns as the training data: leave the timestamp column out of the update$"
    )):
        rec.update({"user": [1], "item": [1], "rating": [3.0], "timestamp": [1.0]})
    assert rec._state() is before


@pytest.mark.parametrize(
    ("users", "where"),
    [([1], r"are in the training data already \(the update's event 1\).*: leave the pair out of the update"),
     ([7, 7], r"occur twice in the update \(its events 1 and 2\).*: give each pair once")],
    ids=["trained", "twice"],
)
def test_a_pair_repeated_under_duplicates_error_is_placed(users: list[int], where: str) -> None:
    """Found by an outside review: the builder's message advised ``set matrix.duplicates``, for a fitted model."""
    matrix = {"type": "ratings", "duplicates": "error"}
    rec = Recommender.from_config({"matrix": matrix, "similarity": {"type": "sparse", "k": 5}})
    rec.fit({"user": [1, 1, 2, 3], "item": [1, 2, 2, 1], "rating": [4.0, 3.0, 5.0, 2.0]})
    before = rec._state()
    with pytest.raises(DataError, match=f"^update: user {users[0]} and item 1 {where}, or refit with another"):
        rec.update({"user": users, "item": [1] * len(users), "rating": [3.0] * len(users)})
    assert rec._state() is before


@pytest.mark.parametrize(("update", "message"), BAD_UPDATES)
def test_bad_updates_change_nothing(fitted: Recommender, update: dict[str, list[object]], message: str) -> None:
    before = fitted._state()
    with pytest.raises(DataError, match=message):
        fitted.update(update)
    assert fitted._state() is before


def test_an_unknown_column_is_told_with_the_columns_of_this_models_data() -> None:
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit(
        {"user": [1, 2, 2], "item": [1, 1, 2]}
    )
    with pytest.raises(DataError, match=r"has the columns \['user', 'item'\], as its training data$"):
        rec.update({"user": [3], "item": [1], "when": [1.0]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "forget needs users, items or both"),
        ({"users": [1, 5555, 6666]}, r"2 users not in the training data: \[5555, 6666\]; nothing was forgotten"),
        ({"items": ["i1"]}, "item ids are text but the model's are integers"),
        ({"users": []}, "no users given"),
        ({"users": [1, "a"]}, "must be all integers or all text"),
        ({"users": [1, 2**64]}, "user id 18446744073709551616 is outside the 64-bit integer range"),
        ({"items": [-(2**63) - 1]}, "item id -9223372036854775809 is outside the 64-bit integer range"),
    ],
)
def test_bad_forget_changes_nothing(fitted: Recommender, kwargs: dict[str, object], message: str) -> None:
    before = fitted._state()
    with pytest.raises(DataError, match=message):
        fitted.forget(**kwargs)
    assert fitted._state() is before


def test_unknown_ids_of_a_forget_are_told_by_an_error_that_holds_them(fitted: Recommender) -> None:
    """A ``DataError`` that holds the ids and their axis (the CLI names the first one's file line), and pickles."""
    from recframe.recommender.update_inputs import UnknownIdsError

    with pytest.raises(UnknownIdsError) as caught:
        fitted.forget(users=[1], items=[9999, 7777])
    error = caught.value
    assert isinstance(error, DataError) and error.name == "items" and error.missing.tolist() == [7777, 9999]
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.name == "items" and again.missing.tolist() == [7777, 9999]


@pytest.mark.parametrize("matrix", ["ratings", "binary", "bm25"])
@pytest.mark.parametrize("who", ["users", "items", "both"])
def test_forgetting_every_event_is_refused(matrix: str, who: str) -> None:
    """Found on the worker while the matrix is updated: the same error, whatever a builder made of no events."""
    events = random_interactions(seed=1)
    rec = Recommender.from_config({"matrix": {"type": matrix}, "similarity": {"type": "sparse", "k": 5}}).fit(events)
    before = rec._state()
    users, items = np.unique(events.users), np.unique(events.items)
    if who == "both":  # every user but one, and every item that one rated
        users, items = users[1:], np.unique(events.items[events.users == users[0]])
    kwargs = {"users": users, "items": None if who == "users" else items} if who != "items" else {"items": items}
    with pytest.raises(DataError, match=f"forget would remove all {len(events)} training events; nothing would remain"):
        rec.forget(**kwargs)
    assert rec._state() is before
    assert not any(thread.name == "recframe-kept-events" for thread in threading.enumerate())


class _KeepsEmptiedUsers(RatingsMatrixBuilder):
    """A builder whose update keeps the row of a user whose every event was forgotten (as a plugin may)."""

    name = "keeps_emptied_users"

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix:
        built = self.build(change.after)
        gone = set() if change.removed_users is None else set(change.removed_users.tolist())
        ids = np.array(sorted(set(built.users.ids.tolist()) | (set(previous.users.ids.tolist()) - gone)))
        rows = np.searchsorted(ids, built.users.ids)
        entries = built.matrix.tocoo()
        matrix = sp.csr_array((entries.data, (rows[entries.row], entries.col)), shape=(len(ids), built.n_items))
        matrix.sort_indices()
        return InteractionMatrix(matrix, IdIndex(ids), built.items)


def test_an_id_the_matrix_kept_without_events_is_refused() -> None:
    """The ids are checked against the matrix first; the worker, finding no event of one, still refuses it."""
    events = Interactions([1, 1, 2, 2, 3, 3, 4], [10, 11, 10, 12, 11, 12, 13], [5.0, 4, 3, 2, 4, 5, 1])
    rec = Recommender(matrix=_KeepsEmptiedUsers()).fit(events)
    rec.forget(items=[13])  # user 4's only event: the builder keeps its row
    assert 4 in rec.interaction_matrix.users.ids.tolist()
    before = rec._state()
    with pytest.raises(DataError, match=r"forget: 1 user not in the training data: \[4\]; nothing was forgotten"):
        rec.forget(users=[4])
    assert rec._state() is before
    assert not any(thread.name == "recframe-kept-events" for thread in threading.enumerate())


def test_unsigned_ids_beyond_64_bits_are_not_in_the_training_data(fitted: Recommender) -> None:
    before = fitted._state()
    with pytest.raises(DataError, match=r"1 user not in the training data: \[18446744073709551615\]"):
        fitted.forget(users=np.array([2**64 - 1], dtype=np.uint64))
    assert fitted._state() is before


def test_an_empty_list_beside_ids_of_the_other_axis_forgets_none_of_it(fitted: Recommender) -> None:
    """As the service takes it: ``users=[]`` with items forgets the items; alone it is still an error."""
    item = fitted.interaction_matrix.items.ids[0]
    fitted.forget(users=[], items=[item])
    assert fitted.lineage[-1]["users"] == 0 and fitted.lineage[-1]["items"] == 1
    with pytest.raises(DataError, match="no users given"):
        fitted.forget(users=np.array([], dtype=np.int64), items=None)


def test_a_forget_whose_remaining_events_a_builder_refuses_says_so() -> None:
    """Every user but one whose ratings are all below the binary threshold: the builder's words, in a forget's."""
    events = Interactions([1, 1, 2, 2, 3], [1, 2, 1, 2, 1], [5.0, 4, 5, 4, 1])
    config = {"matrix": {"type": "binary", "threshold": 4}, "similarity": {"type": "sparse", "k": 2}}
    rec = Recommender.from_config(config).fit(events)
    before = rec._state()
    refused = r"^forget: what it would leave is refused: .*threshold.*; nothing was forgotten$"
    with pytest.raises(DataError, match=refused):
        rec.forget(users=[1, 2])
    assert rec._state() is before


def test_a_user_the_matrix_dropped_is_forgotten_from_the_events() -> None:
    """Ids are checked against the matrix's first: one only among the events (below a threshold) is still found."""
    events = Interactions([1, 1, 2, 2, 3, 3, 9], [1, 2, 1, 3, 2, 3, 1], [5.0, 4, 5, 4, 4, 5, 1])
    config = {"matrix": {"type": "binary", "threshold": 3}, "similarity": {"type": "sparse", "k": 2}}
    rec = Recommender.from_config(config).fit(events)
    assert 9 not in rec.interaction_matrix.users.ids.tolist()
    rec.forget(users=[9, 2])
    kept = events.take(~np.isin(events.users, [9, 2]))
    assert rec._state().interactions.users.tolist() == kept.users.tolist()  # type: ignore[union-attr]
    assert rec.lineage[-1]["events"] == 3
    ref = Recommender.from_config(config).fit(kept)
    assert_same_neighbours(rec._state().graphs["items"], ref._state().graphs["items"])
    with pytest.raises(DataError, match=r"1 user not in the training data: \[10\]"):
        rec.forget(users=[3, 10])


def test_an_update_that_loses_the_race_is_not_applied(fitted: Recommender) -> None:
    """A fit that publishes while an update runs wins; the update raises and changes nothing."""
    other = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=9))
    original = fitted._fit_rankers

    def fit_meanwhile(updated: object) -> None:
        original(updated)  # type: ignore[arg-type]
        fitted._publish(other._state())

    fitted._fit_rankers = fit_meanwhile  # type: ignore[method-assign]
    with pytest.raises(RecframeError, match=r"replaced .* while the update ran"):
        fitted.update({"user": [1], "item": [2], "rating": [3.0], "timestamp": [1.0]})
    assert fitted._state() is other._state()


@pytest.mark.parametrize(
    ("similarity", "matrix", "reason"),
    [
        ({"type": "sparse", "measure": "adjusted_cosine"}, {"type": "ratings"}, "adjusted_cosine"),
        ({"type": "sparse"}, {"type": "bm25"}, "so one full search costs less"),
    ],
)
def test_full_searches_say_why(similarity: dict[str, str], matrix: dict[str, str], reason: str) -> None:
    rec = Recommender.from_config({"matrix": matrix, "similarity": similarity}).fit(random_interactions(seed=2))
    rec.update({"user": [1], "item": [2], "rating": [3.0], "timestamp": [1.0]})
    record = rec.lineage[-1]["neighbours"]["items"]
    assert record["mode"] == "full"
    assert reason in record["reason"]


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        ({"type": "sparse", "measure": "jaccard", "k": 5, "threads": 1}, "similarity's measure changed"),
        ({"type": "sparse", "k": 8}, "similarity's k changed"),  # more neighbours
        ({"type": "sparse", "k": 5, "shrinkage": 10.0}, "similarity's shrinkage changed"),
        ({"type": "sparse", "k": 5, "update_slack": 3}, "similarity's update_slack changed"),  # longer kept lists
        ({"type": "sklearn_nn", "k": 5}, "now SklearnNNSimilarity, not SparseSimilarity"),  # another backend
    ],
)
def test_a_similarity_changed_since_the_fit_is_searched_anew(now: dict[str, object], reason: str) -> None:
    """An update gives what a fit with the recommender's components would, also after ``rec.similarity = ...``."""
    data, new = random_interactions(seed=1), Interactions([1, 1000], [2, 9999], [4.0, 5.0], [1.7e9, 1.7e9])
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(data)
    rec.similar_users([1], n=2)  # a graph built for queries is searched anew too
    rec.similarity = Recommender.from_config({"similarity": now}).similarity
    rec.update(new)
    refit = Recommender.from_config({"similarity": now}).fit(Interactions.concat(data, new))
    refit.similar_users([1], n=2)
    for axis in ("items", "users"):
        record = rec.lineage[-1]["neighbours"][axis]
        assert record["mode"] == "full" and re.search(reason, record["reason"]), record
        assert_same_neighbours(rec._state().graphs[axis], refit._state().graphs[axis])
    rec.update({"user": [2], "item": [3], "rating": [1.0], "timestamp": [1.8e9]})  # from now on, updated in place
    assert rec.lineage[-1]["neighbours"]["items"]["mode"] != "full"


def test_a_graph_a_new_ranker_needs_is_in_the_lineage() -> None:
    """A ranker set since the fit reads a graph the model had none of: the update searches it, and says so."""
    data, new = random_interactions(seed=1), Interactions([1, 1000], [2, 9999], [4.0, 5.0], [1.7e9, 1.7e9])
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(data)
    rec.ranker = Recommender.from_config({"ranker": {"type": "user_cf"}}).ranker
    rec.update(new)
    records = rec.lineage[-1]["neighbours"]
    assert records["items"]["mode"] == "delta"  # kept and updated: queries of similar items read it
    n_users = rec.interaction_matrix.n_users
    assert records["users"] == {"mode": "full", "rows_searched": n_users, "rows_merged": 0, "reason": NEW_GRAPH}
    refit = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "user_cf"}})
    refit.fit(Interactions.concat(data, new))
    assert_same_neighbours(rec._state().graphs["users"], refit._state().graphs["users"])


def test_changed_run_settings_alone_keep_updating_in_place() -> None:
    """Threads, the engine and memory caps change how a search runs, not what it finds: no new search for them."""
    data, new = random_interactions(seed=1), Interactions([1, 1000], [2, 9999], [4.0, 5.0], [1.7e9, 1.7e9])
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(data)
    settings = {"threads": 1, "engine": "scipy", "max_memory_mb": 64, "memory_limit_mb": 4096}
    rec.similarity = Recommender.from_config({"similarity": {"type": "sparse", "k": 5, **settings}}).similarity
    rec.update(new)
    assert rec.lineage[-1]["neighbours"]["items"]["mode"] == "delta"
    assert rec._state().similarity.config.engine == "scipy"  # taken: a search from now on runs with them
    refit = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(Interactions.concat(data, new))
    assert_same_neighbours(rec._state().graphs["items"], refit._state().graphs["items"])


def test_a_config_that_cannot_be_compared_counts_as_changed() -> None:
    from recframe.recommender.similarity_change import result_changes

    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}})

    class Odd:  # a plugin's config holding a value pydantic can't dump as JSON
        def model_dump(self, mode: str) -> dict[str, object]:
            raise TypeError("not JSON")

    odd = type(rec.similarity)(rec.similarity.config)
    odd.config = Odd()  # type: ignore[assignment]
    assert "can't be compared" in str(result_changes(odd, rec.similarity))
    assert result_changes(type(rec.similarity)(rec.similarity.config), rec.similarity) is None


def test_string_ids_update_and_forget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    data = random_interactions(seed=4, string_ids=True)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 4}, "ranker": {"type": "user_cf"}}).fit(data)
    new = Interactions(["u0", "zz"], ["i1", "i0"], [5.0, 1.0], [1.0, 2.0])
    rec.update(new).forget(users=["u3"], items=["i2"])
    combined = Interactions.concat(data, new)
    keep = (combined.users != "u3") & (combined.items != "i2")
    ref = Recommender.from_config({"similarity": {"type": "sparse", "k": 4}, "ranker": {"type": "user_cf"}})
    ref.fit(combined.take(keep))
    assert_same_neighbours(rec._state().graphs["users"], ref._state().graphs["users"])


def test_graphs_built_for_queries_are_updated_too() -> None:
    """A similar-items graph of a user-CF model (built on first use) is kept up to date, not dropped."""
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 4}, "ranker": {"type": "user_cf"}})
    rec.fit(random_interactions(seed=6))
    rec.similar_items([2], n=3)
    rec.update({"user": [1], "item": [2], "rating": [5.0], "timestamp": [1.0]})
    assert set(rec.lineage[-1]["neighbours"]) == {"users", "items"}
    ref = Recommender.from_config({"similarity": {"type": "sparse", "k": 4}, "ranker": {"type": "user_cf"}})
    ref.fit(Interactions.concat(random_interactions(seed=6), Interactions([1], [2], [5.0], [1.0])))
    ref.similar_items([2], n=3)
    assert_same_neighbours(rec._state().graphs["items"], ref._state().graphs["items"])


def test_every_row_changed_with_the_incremental_path_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the full-search cutoff raised, an update that changes every row still merges correctly."""
    monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    config = {"similarity": {"type": "sparse", "measure": "pearson", "k": 3}, "ranker": {"type": "user_cf"}}
    data = Interactions([1, 1, 2, 2, 3], [10, 11, 10, 12, 11], [1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5)
    new = Interactions([1, 2, 3, 4], [12, 11, 12, 10], [2.0, 1.0, 4.0, 3.0], [2.0] * 4)
    rec = Recommender.from_config(config).fit(data).update(new)
    ref = Recommender.from_config(config).fit(Interactions.concat(data, new))
    assert_same_neighbours(rec._state().graphs["users"], ref._state().graphs["users"])
