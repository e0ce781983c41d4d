"""The ``rows`` kernel (Triton): each query row's products accumulated row by row of the right factor.

For query row ``a`` the kernel walks ``a``'s entries ``(u, x)`` in column order and adds
``x * B[u, :]`` into ``a``'s dense output row: ``sum_u deg(u)^2`` multiply-adds for all item
pairs of ML-20M (1e10), fifty times fewer than the sparse-times-dense product. One program
handles one query row; within one ``u`` the columns are distinct, so no atomics are needed, and
the rows of ``B`` are added in a fixed order (with a barrier between them), so the result is the
same bit for bit on every run. Programs start with the heaviest rows, which bound the time.

Imported only when ``kernel: rows`` is chosen: it needs Triton (installed with PyTorch on Linux)
and a CUDA device, or ``TRITON_INTERPRET=1`` to run on the CPU (slowly; the tests do).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from recframe_gpu.kernels import DeviceRows, Product

BLOCK = 256
"""Entries of a row of ``B`` each program adds at once."""


@triton.jit  # type: ignore[untyped-decorator]
def _accumulate(  # type: ignore[no-untyped-def]  # Triton's arguments are pointers and scalars it types itself
    order, picked, q_indptr, q_indices, q_values, b_indptr, b_indices, b_values, out, n_columns, BLOCK: tl.constexpr
):
    slot = tl.load(order + tl.program_id(0))
    a = tl.load(picked + slot)
    real = a >= 0
    a = tl.where(real, a, 0)
    start = tl.load(q_indptr + a)
    end = tl.where(real, tl.load(q_indptr + a + 1), start)
    out_row = out + slot * n_columns
    for p in range(start, end):
        u = tl.load(q_indices + p).to(tl.int64)
        x = tl.load(q_values + p).to(tl.float64)
        first = tl.load(b_indptr + u)
        last = tl.load(b_indptr + u + 1)
        for offset in range(first, last, BLOCK):
            at = offset + tl.arange(0, BLOCK)
            inside = at < last
            j = tl.load(b_indices + at, mask=inside, other=0).to(tl.int64)
            v = tl.load(b_values + at, mask=inside, other=0.0).to(tl.float64)
            total = tl.load(out_row + j, mask=inside, other=0.0)
            tl.store(out_row + j, total + x * v, mask=inside)
        tl.debug_barrier()  # the next row of B may add to the same columns from other threads


def rows_product(queries: DeviceRows, right: DeviceRows) -> Product:
    """Return the ``rows`` product ``Q[rows] @ B`` of `queries` and the CSR `right` factor ``B``.

    Parameters
    ----------
    queries : DeviceRows of shape (n_queries, n_inner)
    right : DeviceRows of shape (n_inner, n_columns)
    """
    lengths = right.indptr[1:] - right.indptr[:-1]
    q_columns = queries.indices.long()

    def product(rows: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((len(rows), right.shape[1]), dtype=torch.float64, device=rows.device)
        position, offset = queries.entries(rows)
        work = torch.zeros(len(rows), dtype=torch.int64, device=rows.device)
        work.index_add_(0, position, lengths[q_columns[offset]])
        order = torch.argsort(work, descending=True, stable=True)
        _accumulate[(len(rows),)](
            order,
            rows,
            queries.indptr,
            queries.indices,
            queries.values,
            right.indptr,
            right.indices,
            right.values,
            out,
            right.shape[1],
            BLOCK=BLOCK,
        )
        return out

    return Product(product, right.shape[1], 0)
