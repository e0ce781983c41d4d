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

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

AHEAD = 2  # a kernel asks for the row its entry this many places on will read (measured above)
LINE = 64  # bytes in a cache line
DATA_LINES = 4  # lines of a row's values asked for (a row of 50 float64 values spans 6-7)
INDEX_LINES = 2  # lines of a row's column indices asked for (50 int32 indices span 3-4)


def _prefetch_at(context: Any, builder: ir.IRBuilder, array_type: types.Array, value: Any, index: Any) -> None:
    """Emit ``llvm.prefetch`` (read, high locality, data cache) for the address of element `index` of an array.

    The address is computed without a bounds check: a prefetch past the end is a no-op.
    """
    array = context.make_array(array_type)(context, builder, value)
    address = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
        context, builder, array_type, array, [index], wraparound=False, boundscheck=False
    )
    byte_pointer = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
        builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0i8"
    )
    read, high_locality, data_cache = (ir.Constant(i32, value) for value in (0, 3, 1))
    builder.call(function, [builder.bitcast(address, byte_pointer), read, high_locality, data_cache])


def _prefetch_lines_at(
    context: Any, builder: ir.IRBuilder, array_type: types.Array, value: Any, start: Any, lines: int
) -> None:
    """Emit prefetches of the first `lines` cache lines of an array from element `start` (an intp) on."""
    step = max(1, LINE // context.get_abi_sizeof(context.get_data_type(array_type.dtype)))
    for line in range(lines):
        _prefetch_at(context, builder, array_type, value, builder.add(start, ir.Constant(start.type, line * step)))


# The helpers are intrinsics, not functions inlined by numba: an inlined function's array
# arguments are copies in numba's IR, each counted in and out of use (two atomic operations)
# at every call, which in a kernel's innermost loop cost about what the prefetch gains.


@intrinsic
def _prefetch(typingctx: object, arr: types.Array, index: types.Integer) -> tuple[object, object]:
    """Ask for the cache line of ``arr[index]`` (no bounds check: a prefetch past the end is a no-op)."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        _prefetch_at(context, builder, sig.args[0], args[0], index)
        return context.get_dummy_value()

    return types.void(arr, index), codegen


@intrinsic
def _prefetch_entries(
    typingctx: object, indices: types.Array, data: types.Array, first: types.Integer
) -> tuple[object, object]:
    """Ask for the column indices and values of a CSR matrix from entry `first` on."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        start = context.cast(builder, args[2], sig.args[2], types.intp)
        _prefetch_lines_at(context, builder, sig.args[0], args[0], start, INDEX_LINES)
        _prefetch_lines_at(context, builder, sig.args[1], args[1], start, DATA_LINES)
        return context.get_dummy_value()

    return types.void(indices, data, first), codegen


@intrinsic
def _prefetch_row(
    typingctx: object, indptr: types.Array, indices: types.Array, data: types.Array, row: types.Integer
) -> tuple[object, object]:
    """Ask for the start of row `row` of the CSR matrix ``(indptr, indices, data)`` (`row` must be one of its rows)."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        indptr_type = sig.args[0]
        indptr = context.make_array(indptr_type)(context, builder, args[0])
        row_index = context.cast(builder, args[3], sig.args[3], types.intp)
        offset = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, indptr_type, indptr, [row_index], wraparound=False, boundscheck=False
        )
        start = context.cast(builder, builder.load(offset), indptr_type.dtype, types.intp)
        _prefetch_lines_at(context, builder, sig.args[1], args[1], start, INDEX_LINES)
        _prefetch_lines_at(context, builder, sig.args[2], args[2], start, DATA_LINES)
        return context.get_dummy_value()

    return types.void(indptr, indices, data, row), codegen
