"""Call-time control of query results: ``exclude``, ``candidates`` and filling short lists.

The query methods of :class:`~recframe.recommender.Recommender` take item sets at call time:
``exclude`` (ids never returned) and ``candidates`` (the only ids that may be returned). This
module turns them into item rows once per call (:func:`item_filter`), into the per-user
exclusion matrices a ranker's ``recommend`` takes (:func:`exclusion_matrix`), and merges a
fallback ranker's list behind a short one (:func:`append_lists`). Its policies:

- unknown ids in ``exclude`` or ``candidates`` are ignored: they can never be returned anyway.
  They are logged at INFO and counted in ``RankedLists.reasons`` (``"2 unknown ids in exclude
  ignored"``), so a caller can notice a typo without a service failing on a stale id;
- ``candidates`` are a whitelist: every other training item is excluded, and an empty
  ``candidates`` (or one naming only unknown ids) leaves nothing to recommend;
- the exclusions are the same for the main ranker and every fallback.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import IdIndex, IntArray, as_query_ids
from recframe.interfaces import CandidateRanker, TopN

logger = logging.getLogger(__name__)

EXCLUSION_ENTRIES = 1 << 22
"""The most entries one exclusion matrix holds: queries are split into chunks that fit it."""


@dataclass(frozen=True)
class ItemFilter:
    """The item rows a query may not return, from its ``exclude`` and ``candidates``.

    Attributes
    ----------
    banned : ndarray of int64
        Sorted, unique item rows never returned (the excluded ones and, with candidates, every
        row that is not one).
    n_unknown : int
        How many ids of ``exclude`` and ``candidates`` are not training items (ignored).
    note : str
        The reason text counting them (``""`` when all were known).
    """

    banned: IntArray
    n_unknown: int = 0
    note: str = ""

    @property
    def active(self) -> bool:
        """Whether any row is banned."""
        return bool(self.banned.size)


def _known_rows(index: IdIndex, ids: Any, what: str) -> tuple[IntArray, int]:
    """Return the rows of the known ids among `ids` (a set too) and the number of unknown ones."""
    queries = as_query_ids(list(ids) if isinstance(ids, set | frozenset) else ids, what)
    if len(queries) == 0:
        return np.zeros(0, dtype=np.int64), 0
    rows = index.rows(queries, missing="mark")
    known = rows[rows >= 0]
    return np.unique(known).astype(np.int64), int(np.count_nonzero(rows < 0))


def item_filter(index: IdIndex, exclude: Any = None, candidates: Any = None, *, what: str = "item") -> ItemFilter:
    """Return the :class:`ItemFilter` of a query's `exclude` and `candidates` (``None``: no restriction).

    Parameters
    ----------
    index : IdIndex
        The ids of the rows that may be returned (the training items, or users for
        ``similar_users``).
    exclude, candidates : id or array-like of ids, optional
        Ids never returned; the only ids that may be returned.
    what : str
        What the ids are, for messages (``"item"``, ``"user"``).
    """
    banned = np.zeros(0, dtype=np.int64)
    unknown: dict[str, int] = {}
    if exclude is not None:
        banned, unknown["exclude"] = _known_rows(index, exclude, what)
    if candidates is not None:
        allowed, unknown["candidates"] = _known_rows(index, candidates, what)
        others = np.setdiff1d(np.arange(len(index), dtype=np.int64), allowed, assume_unique=True)
        banned = np.union1d(banned, others).astype(np.int64)
    counted = {k: v for k, v in unknown.items() if v}
    note = "; ".join(f"{v} unknown {what} ids in {k} ignored" for k, v in counted.items())
    if note:
        logger.info("%s", note)
    return ItemFilter(banned, sum(counted.values()), note)


def exclusion_matrix(banned: IntArray, listed: IntArray | None, n_queries: int, n_items: int) -> sp.csr_array | None:
    """Return the exclusions of `n_queries` lists: `banned` in every row, plus each row's `listed` items.

    Parameters
    ----------
    banned : ndarray of int64
        Sorted unique item rows excluded for every query.
    listed : ndarray of shape (n_queries, n), int64, optional
        Items already in each list (``-1`` padded), excluded for that query only.
    n_queries, n_items : int
        The shape of the result.

    Returns
    -------
    csr_array of shape (n_queries, n_items), or None
        ``None`` when nothing is excluded.
    """
    per_row = [np.broadcast_to(banned, (n_queries, banned.size))]
    if listed is not None and listed.size:
        per_row.append(listed)
    columns = np.concatenate(per_row, axis=1) if len(per_row) > 1 else per_row[0]
    keep = columns >= 0
    if not keep.any():
        return None
    counts = keep.sum(axis=1)
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    indices = columns[keep].astype(np.int64)
    matrix = sp.csr_array((np.ones(indices.size), indices, indptr), shape=(n_queries, n_items))
    matrix.sum_duplicates()
    return matrix


def chunks(n_queries: int, n_banned: int) -> Iterator[slice]:
    """Split `n_queries` into slices whose exclusion matrices hold at most :data:`EXCLUSION_ENTRIES`."""
    size = max(1, EXCLUSION_ENTRIES // max(1, n_banned))
    for start in range(0, n_queries, size):
        yield slice(start, min(start + size, n_queries))


def append_lists(head: TopN, tail: TopN, n: int) -> TopN:
    """Return each list of `head` followed by the entries of `tail`, cut to `n`.

    Both are padded with ``-1`` after their entries; the entries keep their order (and their
    rankers' scores), the head's first.
    """
    items = np.concatenate([head.items, tail.items], axis=1)
    scores = np.concatenate([head.scores, tail.scores], axis=1)
    order = np.argsort(items < 0, axis=1, kind="stable")[:, :n]
    return TopN(np.take_along_axis(items, order, axis=1), np.take_along_axis(scores, order, axis=1))


def drop_banned(lists: TopN, banned: IntArray, n: int, *, per_row: bool = False) -> TopN:
    """Return `lists` without the `banned` item rows, the remaining entries moved up, cut to `n`.

    Parameters
    ----------
    lists : TopN
        The lists, ``-1`` padded.
    banned : ndarray of int64
        Rows banned from every list; with `per_row`, an ``(n_lists, w)`` array of the rows
        banned from each list (``-1`` padded).
    n : int
        The length of the result's lists (at most that of `lists`).
    per_row : bool
        Whether `banned` holds one row of bans per list.
    """
    items = lists.items
    if per_row:
        width = int(max(items.max(initial=-1), banned.max(initial=-1))) + 2
        offsets = np.arange(len(items), dtype=np.int64)[:, None] * width
        hit = np.isin(items + offsets, (banned + offsets)[banned >= 0])
    else:
        hit = np.isin(items, banned)
    hit &= items >= 0
    items = np.where(hit, -1, items)
    scores = np.where(hit, np.nan, lists.scores)
    order = np.argsort(items < 0, axis=1, kind="stable")[:, :n]
    return TopN(np.take_along_axis(items, order, axis=1), np.take_along_axis(scores, order, axis=1))


def with_seen(ranker: CandidateRanker, exclude_seen: bool | None) -> CandidateRanker:
    """Return `ranker`, or a shallow copy whose config's ``exclude_seen`` is `exclude_seen`.

    The copy shares the fitted ranker's state (nothing is refitted or changed); a ranker
    honours ``exclude_seen`` by reading its config when it recommends, as every
    :class:`~recframe.engine.scoring.ScoringRanker` does. ``None`` keeps the configured value.
    """
    if exclude_seen is None or getattr(ranker.config, "exclude_seen", exclude_seen) == exclude_seen:
        return ranker
    clone = copy.copy(ranker)
    clone.config = ranker.config.model_copy(update={"exclude_seen": exclude_seen})
    return clone
