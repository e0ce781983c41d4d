"""What the Python API returns: ranked lists with external ids, and evaluation results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import IdArray, IdIndex
from recframe.data.ids import plain_id
from recframe.interfaces import TopN


@dataclass(frozen=True)
class Contribution:
    """One neighbour's term of a score: ``contribution = similarity * value``."""

    neighbour: Any
    similarity: float
    value: float
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """Why an item got its score for a user: the neighbours' terms that add up to it.

    Attributes
    ----------
    user, item : id
        External ids.
    score : float
        The ranker's score; for ``item_cf`` and ``user_cf`` the sum of the contributions.
    source : str
        The ranker that scored the item (the fallback for users the main ranker can't serve).
    neighbour_kind : {"items", "users"} or None
        What the neighbours are; ``None`` for a ranker without neighbours (popularity).
    reason : str
        One sentence for people.
    contributions : list of Contribution
        Largest first; empty for a ranker without neighbours.
    """

    user: Any
    item: Any
    score: float
    source: str
    neighbour_kind: str | None
    reason: str
    contributions: list[Contribution]

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as JSON-ready values."""
        return {
            "user": self.user,
            "item": self.item,
            "score": self.score,
            "source": self.source,
            "neighbour_kind": self.neighbour_kind,
            "reason": self.reason,
            "contributions": [vars(c) for c in self.contributions],
        }


@dataclass(frozen=True, eq=False)
class RankedLists:
    """One ranked list per query (a user's recommendations, or an item's similar items).

    Attributes
    ----------
    queries : ndarray of shape (n_queries,)
        External ids of the queries, in the order asked.
    ranked : TopN
        Rows of the ranked entries (``-1`` padded) and their scores (``nan`` padded).
    index : IdIndex
        The ids of the ranked entries' rows.
    sources : ndarray of shape (n_queries,) of str
        Which ranker produced each list (``""`` for an empty list).
    reasons : ndarray of shape (n_queries,) of str, optional
        Why the main ranker did not serve a query (``"not in training"``, ``"nothing from
        item_cf"``, with each fallback that also found nothing); ``""`` where it did.
    explanations : list of list of Explanation, optional
        With ``recommend(..., explain=True)``: one explanation per ranked item of each list.

    Notes
    -----
    Batch-first access, without a Python loop: :attr:`ids` and :attr:`scores` are
    ``(n_queries, n)`` arrays of the ranked entries' external ids and scores, :attr:`mask`
    says which of their cells hold an entry, and :attr:`lengths` how many each list has
    (entries come first, padding after).

    Examples
    --------
    >>> lists = rec.recommend([1, 2], n=3)  # doctest: +SKIP
    >>> lists.ids[lists.mask]  # every recommended id, list after list  # doctest: +SKIP
    """

    queries: IdArray
    ranked: TopN
    index: IdIndex
    sources: npt.NDArray[np.str_]
    reasons: npt.NDArray[np.str_] | None = None
    explanations: list[list[Explanation]] | None = None

    def __len__(self) -> int:
        """Return the number of lists."""
        return len(self.queries)

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """Where the lists have entries: ``True`` in each list's entries, ``False`` in its padding.

        Returns
        -------
        ndarray of shape (n_queries, n), bool
        """
        mask: npt.NDArray[np.bool_] = self.ranked.items >= 0
        return mask

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        """The number of entries of each list, as an ndarray of shape (n_queries,), int64."""
        return self.ranked.lengths

    @property
    def ids(self) -> IdArray:
        """The external ids of the ranked entries, best first, as an ndarray of shape (n_queries, n).

        The array has the dtype of the index's ids (``int64`` ids stay integers, string ids
        stay strings), so it is a plain numpy array rather than an object or masked one. Its
        padding, where a list is shorter than ``n``, holds the dtype's zero (``0``, or ``""``
        for strings), which may also be a real id: select with :attr:`mask` (``ids[mask]``),
        or take ``ids[i, :lengths[i]]``.
        """
        rows = self.ranked.items
        mask = rows >= 0
        ids: IdArray = np.zeros(rows.shape, dtype=self.index.ids.dtype)
        ids[mask] = self.index.ids[rows[mask]]
        return ids

    @property
    def scores(self) -> npt.NDArray[np.float64]:
        """The score of each entry of :attr:`ids`, ``nan`` in the padding: ndarray of shape (n_queries, n), float64."""
        scores: npt.NDArray[np.float64] = np.where(self.mask, self.ranked.scores, np.nan).astype(np.float64)
        return scores

    def __iter__(self) -> Iterator[tuple[Any, list[Any], list[float]]]:
        """Yield ``(query, ids, scores)`` for each list, without padding."""
        for i in range(len(self)):
            yield plain_id(self.queries[i]), *self.list_of(i)

    def list_of(self, position: int) -> tuple[list[Any], list[float]]:
        """Return the ids and scores of the list at `position`, without padding."""
        rows = self.ranked.items[position]
        keep = rows >= 0
        return self.index.ids_of(rows[keep]).tolist(), self.ranked.scores[position][keep].tolist()

    def to_dict(self) -> dict[Any, list[tuple[Any, float]]]:
        """Return ``{query: [(id, score), ...]}``."""
        return {query: list(zip(ids, scores, strict=True)) for query, ids, scores in self}

    def records(self) -> Iterator[tuple[Any, Any, int, float]]:
        """Yield ``(query, id, rank, score)`` rows, ranks counted from 1."""
        for query, ids, scores in self:
            for rank, (id_, score) in enumerate(zip(ids, scores, strict=True), start=1):
                yield query, id_, rank, score

    def to_frame(self, query_column: str = "user", id_column: str = "item") -> Any:
        """Return the records as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame.from_records(list(self.records()), columns=[query_column, id_column, "rank", "score"])


@dataclass(frozen=True, eq=False)
class ItemExposure:
    """How one split used the training items: their popularity, the test data and the recommendations.

    Attributes
    ----------
    popularity : ndarray of shape (n_items,), int64
        Distinct training users of each training item.
    relevant : ndarray of shape (n_items,), int64
        Relevant held-out (user, item) pairs of each training item (pairs of items training
        never saw are not counted).
    recommended : ndarray of shape (n_items,), int64
        How often each item is in the evaluated users' lists, cut at `depth`.
    depth : int
        The list length counted: the largest metric cut-off.
    """

    popularity: npt.NDArray[np.int64]
    relevant: npt.NDArray[np.int64]
    recommended: npt.NDArray[np.int64]
    depth: int


@dataclass(frozen=True, eq=False)
class FoldResult:
    """Metric values of one train/test split.

    Attributes
    ----------
    metrics : dict of str to float
        Each metric of the split, keyed by label (``ndcg@10``): the mean over users of a
        per-user metric, the value of a run-level one (``coverage@10``).
    per_user : dict of str to ndarray of shape (n_users,)
        Each user's value of each per-user metric.
    users : ndarray of shape (n_users,)
        External ids of the evaluated users.
    counts : dict of str to int
        What the split and the protocol did: ``n_train`` and ``n_test`` interactions,
        ``n_test_users``, evaluated users served by the fallback ranker (``n_fallback``),
        test users not evaluated because they are unknown in training with no fallback
        (``n_skipped``) or have no relevant item (``n_without_relevant``), held-out pairs below
        the relevance threshold (``n_below_threshold``) and relevant pairs of items unseen in
        training (``n_unseen_items``).
    history : ndarray of shape (n_users,), int64, optional
        Distinct training items of each evaluated user (0 for users training never saw).
    exposure : ItemExposure, optional
        How the split used the training items (for the report's long-tail view).
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray]
    users: IdArray
    counts: dict[str, int]
    history: npt.NDArray[np.int64] | None = None
    exposure: ItemExposure | None = None


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Metric values of an evaluated run: one :class:`FoldResult` per split (one, or k for k-fold).

    Attributes
    ----------
    folds : list of FoldResult
        The splits, in order.
    warnings : list of str
        What the protocol check found leakage-prone (also logged).
    definitions : dict of str to dict
        What each metric computes, keyed by label: its resolved formula and options
        (:attr:`recframe.Metric.definition`).
    data_fingerprint : str
        sha256 of the data evaluated: of the interactions split, or, with a predefined test
        part, of both parts together (empty where unknown). A resumed sweep re-uses a kept
        setting only for the same.
    """

    folds: list[FoldResult]
    warnings: list[str] = field(default_factory=list)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_fingerprint: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        """Each metric's mean over folds."""
        labels = self.folds[0].metrics
        return {label: float(np.mean([f.metrics[label] for f in self.folds])) for label in labels}

    @property
    def metrics_std(self) -> dict[str, float]:
        """Each metric's standard deviation over folds (0 with one fold)."""
        labels = self.folds[0].metrics
        return {label: float(np.std([f.metrics[label] for f in self.folds])) for label in labels}

    @property
    def per_user(self) -> dict[str, np.ndarray]:
        """Each per-user metric's values over all folds, aligned with :attr:`users` and :attr:`fold_of`."""
        return {label: np.concatenate([f.per_user[label] for f in self.folds]) for label in self.folds[0].per_user}

    @property
    def users(self) -> IdArray:
        """The evaluated users of every fold, one entry per (fold, user)."""
        return np.concatenate([f.users for f in self.folds])

    @property
    def history(self) -> npt.NDArray[np.int64] | None:
        """Each entry's training history length (see :attr:`FoldResult.history`); ``None`` if not recorded."""
        if any(f.history is None for f in self.folds):
            return None
        return np.concatenate([f.history for f in self.folds if f.history is not None]).astype(np.int64)

    @property
    def fold_of(self) -> np.ndarray:
        """The fold of each entry of :attr:`users`."""
        return np.concatenate([np.full(len(f.users), i, dtype=np.int64) for i, f in enumerate(self.folds)])

    def count(self, name: str) -> int:
        """Return a count summed over folds (see :attr:`FoldResult.counts`)."""
        return int(sum(f.counts.get(name, 0) for f in self.folds))

    @property
    def n_train(self) -> int:
        """Training interactions, summed over folds."""
        return self.count("n_train")

    @property
    def n_test(self) -> int:
        """Test interactions, summed over folds."""
        return self.count("n_test")

    @property
    def n_fallback(self) -> int:
        """Evaluated users served by the fallback ranker, summed over folds."""
        return self.count("n_fallback")

    @property
    def n_skipped(self) -> int:
        """Test users that could not be evaluated, summed over folds."""
        return self.count("n_skipped")

    def summary(self) -> dict[str, Any]:
        """Return the means, spreads and counts as plain JSON-ready values."""
        out: dict[str, Any] = {
            "metrics": self.metrics,
            "n_users": len(self.users),
        }
        if len(self.folds) > 1:
            out["metrics_std"] = self.metrics_std
            out["n_folds"] = len(self.folds)
            out["folds"] = [{"metrics": f.metrics, **f.counts} for f in self.folds]
        for name in self.folds[0].counts:
            out[name] = self.count(name)
        if self.warnings:
            out["protocol_warnings"] = list(self.warnings)
        if self.definitions:
            out["definitions"] = self.definitions
        return out
