"""The contract mixin of executors; see :mod:`recframe.testing`.

An executor may run blocks anywhere (threads, processes, a cluster), so the block functions
below are top-level functions of plain arguments: picklable, as :meth:`Executor.map_blocks`
requires of the functions the engine hands it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from recframe.interfaces import Executor, row_blocks
from recframe.testing.contracts import ComponentContract


class BlockFailure(ValueError):
    """What :func:`fail_at` raises: the executor must raise it again as it is."""


def weighted_sum(payload: dict[str, Any], block: np.ndarray) -> float:
    """Return the block's rows weighted by the payload's weights, summed (a stand-in for a block of work)."""
    return float(np.dot(payload["weights"][block], block))


def fail_at(payload: dict[str, Any], block: np.ndarray) -> int:
    """Return the block's first row, or raise :class:`BlockFailure` for the block that starts at ``payload["row"]``."""
    if int(block[0]) == payload["row"]:
        msg = f"block starting at row {payload['row']} failed"
        raise BlockFailure(msg)
    return int(block[0])


class ExecutorContract(ComponentContract):
    """Contract of executors: a plain loop's results, in block order, and its failures raised as they are.

    Each configuration's executor is closed after each check (a cluster's connection released).
    """

    def _blocks(self) -> list[np.ndarray]:
        return row_blocks(np.random.default_rng(3).permutation(103), 10)  # uneven last block, rows out of order

    def _executors(self) -> Iterator[Executor]:
        """Yield one executor per configuration, closed after each check (whether it passed or not)."""
        for executor in self.instances():
            assert isinstance(executor, Executor)
            try:
                yield executor
            finally:
                executor.close()

    def test_results_equal_a_loop_in_block_order(self) -> None:
        blocks = self._blocks()
        payload = {"weights": np.random.default_rng(5).random(103)}
        expected = [weighted_sum(payload, block) for block in blocks]
        for executor in self._executors():
            assert isinstance(executor.parallel, bool)
            executor.check()
            assert executor.map_blocks(weighted_sum, blocks, payload, desc="contract") == expected
            assert executor.map_blocks(weighted_sum, [], payload, desc="contract") == []

    def test_on_result_sees_every_block_in_order(self) -> None:
        blocks = self._blocks()
        payload = {"weights": np.ones(103)}
        for executor in self._executors():
            seen: list[tuple[int, float]] = []
            results = executor.map_blocks(
                weighted_sum,
                blocks,
                payload,
                desc="contract",
                on_result=lambda i, r: seen.append((i, r)),  # noqa: B023
            )
            assert seen == list(enumerate(results))

    def test_a_failing_block_is_raised_as_it_is(self) -> None:
        blocks = self._blocks()
        payload = {"row": int(blocks[4][0])}
        for executor in self._executors():
            seen: list[int] = []
            with pytest.raises(BlockFailure, match=f"block starting at row {payload['row']} failed"):
                executor.map_blocks(fail_at, blocks, payload, desc="contract", on_result=lambda i, _: seen.append(i))  # noqa: B023
            assert seen == [0, 1, 2, 3], "on_result runs for the blocks before the failing one only"

    def test_works_again_after_close(self) -> None:
        blocks = self._blocks()
        payload = {"weights": np.ones(103)}
        for executor in self._executors():
            first = executor.map_blocks(weighted_sum, blocks, payload, desc="contract")
            executor.close()
            assert executor.map_blocks(weighted_sum, blocks, payload, desc="contract") == first
