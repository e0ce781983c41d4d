"""Row-independent work split into blocks and run by the recommender's executor.

Reading the data may be split too: a data source that reads in parts
(:class:`~recframe.interfaces.SupportsPartitions`, such as a partitioned Parquet dataset) has
its parts read on the executor by :func:`load_source`.

Two steps of a fit and a run are row by row: the neighbour search of every row (each row's
neighbours depend on that row and the fitted rows only) and the lists of every training user
(each user's list depends on that user's row and the fitted ranker only). :func:`search_blocks`
and :func:`rank_blocks` split them into blocks of the executor's ``block_rows``, send the fitted
backend or ranker once as the shared payload, and concatenate the blocks' results in order:
the same arrays as one call over every row.

The block functions run wherever the executor runs them (a thread, a Ray worker): they are
top-level functions of picklable arguments, they name the component in their errors as the
engine does (:func:`~recframe.interfaces.calls.calling`), and they check each block's result
before it is sent back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from recframe.interfaces import (
    CandidateRanker,
    DataSource,
    Executor,
    NeighbourGraph,
    SimilarityBackend,
    SupportsPartitions,
    TopN,
    gather_in_order,
    row_blocks,
)
from recframe.interfaces.calls import calling
from recframe.interfaces.checks import check_graph, check_topn

if TYPE_CHECKING:
    from recframe.data import IntArray

_SearchPayload = tuple[SimilarityBackend, int | None, str, int]
_RankPayload = tuple[CandidateRanker, int, str, int]
_LoadPayload = tuple[SupportsPartitions, str]


_P = TypeVar("_P")
_B = TypeVar("_B")
_R = TypeVar("_R")


def map_in_order(
    executor: Executor,
    function: Callable[[_P, _B], _R],
    blocks: Sequence[_B],
    payload: _P,
    *,
    desc: str,
    on_result: Callable[[int, _R], None],
) -> list[_R]:
    """Run ``executor.map_blocks`` with `on_result`, also for an executor written before that argument.

    Such an executor's results are all handed to `on_result` once the map has returned (so a
    sweep keeps its finished settings only when every setting ran), rather than failing with a
    ``TypeError`` on the argument it does not know.
    """
    parameters = inspect.signature(executor.map_blocks).parameters.values()
    if any(p.name == "on_result" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return executor.map_blocks(function, blocks, payload, desc=desc, on_result=on_result)
    return gather_in_order(executor.map_blocks(function, blocks, payload, desc=desc), on_result)


def spreads(executor: Executor, n_rows: int) -> bool:
    """Whether work over `n_rows` rows goes through `executor`: it runs blocks side by side, and there are several."""
    return executor.parallel and n_rows > executor.config.block_rows


def search_blocks(
    executor: Executor, backend: SimilarityBackend, n_rows: int, k: int | None, who: str
) -> NeighbourGraph:
    """Return the neighbours of every fitted row of `backend`, searched block by block on `executor`.

    Equal to ``backend.neighbours(k=k)``: each block asks for its rows' neighbours (the backend's
    own query-rows search), and the blocks are stacked in order, padded to the widest block.

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
    who : str
        How errors name the backend.

    Raises
    ------
    PluginError
        If the backend fails on a block or returns a malformed graph for it.
    """
    blocks = row_blocks(n_rows, executor.config.block_rows)
    payload: _SearchPayload = (backend, k, who, n_rows)
    graphs = executor.map_blocks(_search_block, blocks, payload, desc=f"{backend.name} neighbours")
    width = max((g.k for g in graphs), default=0)
    indices = np.full((n_rows, width), -1, dtype=np.int64)
    scores = np.zeros((n_rows, width), dtype=np.float64)
    for block, graph in zip(blocks, graphs, strict=True):
        indices[block, : graph.k] = graph.indices
        scores[block, : graph.k] = graph.scores
    return NeighbourGraph(indices, scores, n_rows)


def _search_block(payload: _SearchPayload, rows: IntArray) -> NeighbourGraph:
    """Return the checked neighbours of one block of fitted rows (run by the executor)."""
    backend, k, who, n_rows = payload
    with calling(who, "neighbours"):
        found = backend.neighbours(rows, k=k)
    return check_graph(found, who, len(rows), n_rows, query_rows=rows)


def rank_blocks(executor: Executor, ranker: CandidateRanker, rows: IntArray, n: int, who: str, n_items: int) -> TopN:
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
    lists = executor.map_blocks(_rank_block, blocks, payload, desc=f"{ranker.name} lists")
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
            with calling(runs, "map_blocks"):
                loaded = executor.map_blocks(_load_block, parts, payload, desc=f"{source.name} parts")
            with calling(who, "combine"):
                return source.combine(loaded)
    with calling(who, "load"):
        return source.load(rng)


def _load_block(payload: _LoadPayload, part: object) -> object:
    """Read one part of a data source (run by the executor)."""
    source, who = payload
    with calling(who, "load_partition"):
        return source.load_partition(part)
