"""What the Python API returns: ranked lists with external ids, and evaluation results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import IdArray, IdIndex
from recframe.interfaces import TopN


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
    """

    queries: IdArray
    ranked: TopN
    index: IdIndex
    sources: npt.NDArray[np.str_]

    def __len__(self) -> int:
        """Return the number of lists."""
        return len(self.queries)

    def __iter__(self) -> Iterator[tuple[Any, list[Any], list[float]]]:
        """Yield ``(query, ids, scores)`` for each list, without padding."""
        for i in range(len(self)):
            yield self.queries[i].item(), *self.list_of(i)

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

        return pd.DataFrame.from_records(
            list(self.records()), columns=[query_column, id_column, "rank", "score"]
        )


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Metric values of an evaluated run.

    Attributes
    ----------
    metrics : dict of str to float
        Mean of each metric over the evaluated users, keyed by label (``ndcg@10``).
    per_user : dict of str to ndarray of shape (n_users,)
        Each user's value of each metric.
    users : ndarray of shape (n_users,)
        External ids of the evaluated users.
    n_train, n_test : int
        Interactions in the training and test parts.
    n_fallback : int
        Evaluated users whose list came from the fallback ranker.
    n_skipped : int
        Test users that could not be evaluated (unknown in training and no fallback).
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray]
    users: IdArray
    n_train: int
    n_test: int
    n_fallback: int
    n_skipped: int
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return the means and counts as plain JSON-ready values."""
        return {
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "n_users": len(self.users),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_fallback": self.n_fallback,
            "n_skipped": self.n_skipped,
        }
