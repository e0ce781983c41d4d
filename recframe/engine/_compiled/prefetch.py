"""Software prefetch for the compiled kernels: ask for a row of ``B`` before the scatter reaches it.

A scatter kernel reads, for each entry of a row of ``A``, one short row of ``B`` (fifty
neighbours, a few cache lines) that is seldom next to the previous one in memory, so the
hardware prefetcher cannot guess it and each row starts with a wait. The kernels know which
row comes two entries later and ask for its first lines with LLVM's ``prefetch`` intrinsic: a
hint that never faults (an address past an array's end is harmless) and never changes a result.

Measured on the ML-20M-real shape:

* the batch top-n kernel (:mod:`.products`), top-10 for all users, two threads: 1.22-1.24 s
  without, 0.99 s with the rows two entries ahead (one entry ahead 0.99 s, four 1.05 s; two
  lines of values instead of four 1.12 s; prefetching the dense rows' loop as well gained nothing);
* the symmetric item-item kernel (:mod:`.symmetric`), the rest of a user's row two entries
  ahead, one thread: 12.5 CPU s without, 10.4-10.7 s with.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

AHEAD = 2  # a kernel asks for the row its entry this many places on will read (measured above)
LINE = 64  # bytes in a cache line
DATA_LINES = 4  # lines of a row's values asked for (a row of 50 float64 values spans 6-7)
INDEX_LINES = 2  # lines of a row's column indices asked for (50 int32 indices span 3-4)


@intrinsic
def _prefetch(typingctx: object, arr: types.Array, index: types.Integer) -> tuple[object, object]:
    """Emit ``llvm.prefetch`` (read, high locality, data cache) for the address of ``arr[index]``.

    The address is computed without a bounds check: a prefetch past the end is a no-op.
    """
    signature = types.void(arr, index)

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        array_type = sig.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        address = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, array_type, array, [args[1]], wraparound=False, boundscheck=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        read, high_locality, data_cache = (ir.Constant(i32, value) for value in (0, 3, 1))
        builder.call(function, [builder.bitcast(address, byte_pointer), read, high_locality, data_cache])
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(inline="always", cache=True)
def _prefetch_lines(arr: np.ndarray, start: int, lines: int) -> None:
    """Ask for the first `lines` cache lines of `arr` from ``arr[start]`` on."""
    step = max(1, LINE // arr.itemsize)
    for line in range(lines):
        _prefetch(arr, start + line * step)  # type: ignore[call-arg,arg-type]  # typed by numba, not by mypy


@numba.njit(inline="always", cache=True)
def _prefetch_entries(indices: np.ndarray, data: np.ndarray, first: int) -> None:
    """Ask for the column indices and values of a CSR matrix from entry `first` on."""
    _prefetch_lines(indices, first, INDEX_LINES)
    _prefetch_lines(data, first, DATA_LINES)


@numba.njit(inline="always", cache=True)
def _prefetch_row(b_indptr: np.ndarray, b_indices: np.ndarray, b_data: np.ndarray, row: int) -> None:
    """Ask for the start of row `row` of the CSR matrix ``(b_indptr, b_indices, b_data)``."""
    _prefetch_entries(b_indices, b_data, b_indptr[row])
