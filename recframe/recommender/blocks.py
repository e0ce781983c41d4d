"""Row-independent work split into blocks and run by the recommender's executor.

Reading the data may be split too: a data source that reads in parts
(:class:`~recframe.interfaces.SupportsPartitions`, such as a partitioned Parquet dataset) has
its parts read on the executor by :func:`load_source`.

Two steps of a fit and a run are row by row: the neighbour search of every row (each row's
neighbours depend on that row and the fitted rows only) and the lists of every training user
(each user's list depends on that user's row and the fitted ranker only). :func:`search_blocks`
and :func:`rank_blocks` split them into blocks of the executor's ``block_rows``, send the fitted
backend or ranker once as the shared payload, and concatenate the blocks' results in order:
the same arrays as one call over every row. A backend of
:class:`~recframe.interfaces.SupportsPairBlocks` (``sparse`` with cosine or dot) has its search
split into blocks of pairs instead, so that each pair of rows is still computed once: the
blocks' offers are merged into the running lists as they come back.

The block functions run wherever the executor runs them (a thread, a Ray worker): they are
top-level functions of picklable arguments, they name the component in their errors as the
engine does (:func:`~recframe.interfaces.calls.calling`), and they check each block's result
before it is sent back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recframe.engine import merge_offers
from recframe.errors import PluginError, short_repr
from recframe.interfaces import (
    CandidateRanker,
    DataSource,
    Executor,
    NeighbourGraph,
    SimilarityBackend,
    SupportsPairBlocks,
    SupportsPartitions,
    TopN,
    row_blocks,
)
from recframe.interfaces.calls import calling
from recframe.interfaces.checks import check_graph, check_topn
from recframe.recommender.block_runs import run_blocks

if TYPE_CHECKING:
    from recframe.data import IntArray

_SearchPayload = tuple[SimilarityBackend, int | None, str, int]
_PairPayload = tuple[SupportsPairBlocks, int | None, str, int]
_RankPayload = tuple[CandidateRanker, int, str, int]
_LoadPayload = tuple[SupportsPartitions, str]


def search_blocks(
    executor: Executor, backend: SimilarityBackend, n_rows: int, k: int | None, who: str, runs: str
) -> NeighbourGraph:
    """Return the neighbours of every fitted row of `backend`, searched block by block on `executor`.

    Equal to ``backend.neighbours(k=k)``. A backend of
    :class:`~recframe.interfaces.SupportsPairBlocks` that offers pair blocks is searched by
    them (:func:`search_pairs`); any other asks for its rows' neighbours block by block (the
    backend's own query-rows search), and the blocks are stacked in order, padded to the
    widest block.

    Parameters
    ----------
    executor : Executor
        Runs the blocks.
    backend : SimilarityBackend
        Fitted on the `n_rows` rows; the payload of every block.
    n_rows : int
        Rows fitted (and searched).
    k : int or None
        Neighbours per row; the backend's ``k`` for ``None``.
    who, runs : str
        How errors name the backend and the executor.

    Raises
    ------
    PluginError
        If the backend fails on a block or returns a malformed graph for it, or the executor
        returns other than one result per block in block order.
    """
    if isinstance(backend, SupportsPairBlocks):
        with calling(who, "pair_blocks"):
            bounds = backend.pair_blocks(math.ceil(n_rows / executor.config.block_rows), k)
        if bounds:
            return search_pairs(executor, backend, _checked_bounds(bounds, n_rows, who), k, who, n_rows, runs)
    blocks = row_blocks(n_rows, executor.config.block_rows)
    payload: _SearchPayload = (backend, k, who, n_rows)
    graphs = run_blocks(executor, _search_block, blocks, payload, desc=f"{backend.name} neighbours", runs=runs)
    width = max((g.k for g in graphs), default=0)
    indices = np.full((n_rows, width), -1, dtype=np.int64)
    scores = np.zeros((n_rows, width), dtype=np.float64)
    for block, graph in zip(blocks, graphs, strict=True):
        indices[block, : graph.k] = graph.indices
        scores[block, : graph.k] = graph.scores
    return NeighbourGraph(indices, scores, n_rows)


@dataclass
class _Offers:
    """One pair block's offers, emptied once merged (so that the executor's list of results holds no arrays)."""

    graph: NeighbourGraph | None


def search_pairs(
    executor: Executor,
    backend: SupportsPairBlocks,
    bounds: list[tuple[int, int]],
    k: int | None,
    who: str,
    n_rows: int,
    runs: str,
) -> NeighbourGraph:
    """Return the neighbours of every fitted row of `backend`, its pairs searched in the row ranges `bounds`.

    Each range's offers (``backend.pair_offers``) are merged into the running lists as the
    executor hands them back, in block order, and released: the memory is the running lists
    plus the blocks finished and not yet merged. The merge keeps each row's best by score, then
    lower row, a total order, so that it does not depend on the order of the blocks; the
    finished lists (``backend.finish_pairs``) equal ``backend.neighbours(k=k)``.

    The number of blocks asked of :meth:`~recframe.interfaces.SupportsPairBlocks.pair_blocks`
    is the number of row blocks (rows over ``block_rows``): as many blocks, each of about the
    same pair work rather than the same rows.

    Raises
    ------
    PluginError
        If the backend fails on a block or returns a malformed graph for it, or blocks of
        different widths.
    """
    lists: list[NeighbourGraph] = []

    def merge(number: int, offers: _Offers) -> None:
        graph, offers.graph = offers.graph, None
        assert graph is not None
        if not lists:
            width = graph.k
            lists.append(NeighbourGraph(np.full((n_rows, width), -1, np.int64), np.zeros((n_rows, width)), n_rows))
        elif graph.k != lists[0].k:
            msg = f"{who} returned pair offers {graph.k} wide for block {number}, {lists[0].k} wide for block 0"
            msg += "; every block's offers must be as wide as neighbours(k=k)"
            raise PluginError(msg)
        merge_offers(lists[0].indices, lists[0].scores, graph.indices, graph.scores, bounds[number][0])

    payload: _PairPayload = (backend, k, who, n_rows)
    name = getattr(backend, "name", type(backend).__name__)
    run_blocks(executor, _pair_block, bounds, payload, desc=f"{name} neighbours (pairs)", runs=runs, on_result=merge)
    with calling(who, "finish_pairs"):
        return backend.finish_pairs(lists[0])


def _checked_bounds(bounds: object, n_rows: int, who: str) -> list[tuple[int, int]]:
    """Return `bounds` as (start, stop) pairs if they are consecutive ranges covering ``[0, n_rows)``."""
    try:
        ranges = [(int(start), int(stop)) for start, stop in bounds]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        ranges = []
    stops = [0] + [stop for _, stop in ranges]
    if not ranges or any(a != s or b <= a for (a, b), s in zip(ranges, stops, strict=False)) or stops[-1] != n_rows:
        msg = (
            f"{who} returned pair blocks {short_repr(bounds)}; expected consecutive ranges (start, stop) "
            f"covering the {n_rows} rows in order, or [] for none"
        )
        raise PluginError(msg)
    return ranges


def _pair_block(payload: _PairPayload, bounds: tuple[int, int]) -> _Offers:
    """Return the checked offers of one range of rows' pairs (run by the executor)."""
    backend, k, who, n_rows = payload
    start, stop = bounds
    with calling(who, "pair_offers"):
        found = backend.pair_offers(start, stop, k=k)
    return _Offers(check_graph(found, who, n_rows - start, n_rows, query_rows=np.arange(start, n_rows)))


def _search_block(payload: _SearchPayload, rows: IntArray) -> NeighbourGraph:
    """Return the checked neighbours of one block of fitted rows (run by the executor)."""
    backend, k, who, n_rows = payload
    with calling(who, "neighbours"):
        found = backend.neighbours(rows, k=k)
    return check_graph(found, who, len(rows), n_rows, query_rows=rows)


def rank_blocks(
    executor: Executor, ranker: CandidateRanker, rows: IntArray, n: int, who: str, n_items: int, runs: str
) -> TopN:
    """Return `ranker`'s top-`n` lists of the user `rows`, computed block by block on `executor`.

    Equal to ``ranker.recommend(rows, n)``: a ranker's list of a user depends on that user alone.

    Raises
    ------
    PluginError
        If the ranker fails on a block or returns something that is not a :class:`TopN` of the
        block's shape.
    """
    blocks = row_blocks(rows, executor.config.block_rows)
    payload: _RankPayload = (ranker, n, who, n_items)
    lists = run_blocks(executor, _rank_block, blocks, payload, desc=f"{ranker.name} lists", runs=runs)
    if not lists:
        return TopN(np.zeros((0, n), dtype=np.int64), np.zeros((0, n), dtype=np.float64))
    return TopN(np.concatenate([t.items for t in lists]), np.concatenate([t.scores for t in lists]))


def _rank_block(payload: _RankPayload, rows: IntArray) -> TopN:
    """Return the checked lists of one block of user rows (run by the executor)."""
    ranker, n, who, n_items = payload
    with calling(who, "recommend"):
        found = ranker.recommend(rows, n)
    return check_topn(found, who, len(rows), n, n_items, users=rows)


def load_source(executor: Executor, source: DataSource, rng: np.random.Generator, who: str, runs: str) -> object:
    """Return what `source` loads: its parts read on `executor` when it reads in parts, else its ``load``.

    A source of :class:`~recframe.interfaces.SupportsPartitions` with more than one part, and
    an executor that runs blocks side by side, read each part as a block (the source is the
    payload) and combine them here; anything else is the usual ``source.load(rng)`` call.

    Parameters
    ----------
    who, runs : str
        How errors name the data source and the executor.

    Raises
    ------
    DataError
        What the source raises (a file it can't read, named).
    PluginError
        If the source fails by accident, naming it.
    """
    if executor.parallel and isinstance(source, SupportsPartitions):
        with calling(who, "partitions"):
            parts = list(source.partitions())
        if len(parts) > 1:
            payload: _LoadPayload = (source, who)
            loaded = run_blocks(executor, _load_block, parts, payload, desc=f"{source.name} parts", runs=runs)
            with calling(who, "combine"):
                return source.combine(loaded)
    with calling(who, "load"):
        return source.load(rng)


def _load_block(payload: _LoadPayload, part: object) -> object:
    """Read one part of a data source (run by the executor)."""
    source, who = payload
    with calling(who, "load_partition"):
        return source.load_partition(part)
