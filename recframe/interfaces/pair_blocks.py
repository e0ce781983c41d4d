"""The optional ability of a similarity backend to split its full neighbour search into blocks of pairs.

A symmetric similarity (``sim(i, j) == sim(j, i)``, such as cosine or the dot product) lets one
search over every row compute each pair of rows once and offer it to both rows' lists: about
half the work of asking every row for its neighbours. An executor that splits the search into
blocks of query rows (:func:`~recframe.interfaces.row_blocks`) loses that half, as each block
computes its rows against every row. A backend of :class:`SupportsPairBlocks` keeps it: it
splits its search into blocks of pairs, and the engine merges what each block offers.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from recframe.interfaces.similarity import NeighbourGraph


@runtime_checkable
class SupportsPairBlocks(Protocol):
    """A similarity backend that can split the search of all its fitted rows into blocks of pairs.

    When the run's executor runs blocks side by side and the rows are many (more than its
    ``block_rows``), the engine asks :meth:`pair_blocks` for ranges of rows, here; if it gets
    some, it runs :meth:`pair_offers` of each range on the executor (the fitted backend is the
    shared payload, sent once, so what the blocks share, such as an index of the rows, should be
    computed by :meth:`pair_blocks` and kept on the backend), merges the offers into running
    top-k lists as they arrive (higher score first, then lower row: the order does not matter)
    and calls :meth:`finish_pairs` on the merged lists, here. An empty list from
    :meth:`pair_blocks` means the row blocks as before (each block the backend's
    ``neighbours(rows)``).

    The contract: block ``[start, stop)`` offers the pairs ``(i, j)`` with ``start <= i < stop``
    and ``j > i``, each to both rows, so the union over the blocks of the offers is every pair
    of the full search, each once; and the merged lists, finished, equal ``neighbours(k=k)``
    (the ``sparse`` backend's are equal bit for bit). The recframe engine implements the
    compiled pair search and the merge for the symmetric products
    (:func:`recframe.engine.pair_offers`, :func:`recframe.engine.merge_offers`).
    """

    def pair_blocks(self, n_blocks: int, k: int | None = None) -> list[tuple[int, int]]:
        """Return about `n_blocks` consecutive row ranges ``[start, stop)`` of about equal pair work, or none.

        The ranges cover the fitted rows ``0 .. n_rows - 1`` in order; `k` is what
        :meth:`pair_offers` will be asked for (the backend's own ``k`` for ``None``). Return
        ``[]`` when this fitted configuration can't search by pairs (a measure that is not
        symmetric, an engine without the pair search, blocks whose lists of every row would not
        fit in the memory allowed): the engine then searches by blocks of query rows.
        """
        ...

    def pair_offers(self, start: int, stop: int, k: int | None = None) -> NeighbourGraph:
        """Return, for every fitted row from `start` on, its best `k` partners among the block's pairs.

        The block's pairs are ``(i, j > i)`` with ``start <= i < stop``. Row ``r`` of the
        graph is fitted row ``start + r``; its ``n_targets`` is the number of fitted rows; the
        scores are raw (before :meth:`finish_pairs`), best first, ties by lower row, ``-1`` and
        ``0.0`` padding. Every block's graph has the same width: the width of
        ``neighbours(k=k)`` (``k`` the backend's own for ``None``).
        """
        ...

    def finish_pairs(self, merged: NeighbourGraph) -> NeighbourGraph:
        """Return the final neighbour graph of every fitted row from the merged raw lists.

        What ``neighbours(k=k)`` does after its top-k selection (a per-row normalisation, for
        one): applied to the whole lists, once, never to a block's.
        """
        ...
