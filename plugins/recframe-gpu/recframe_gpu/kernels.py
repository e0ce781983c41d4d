"""PyTorch kernels: sparse rows on a device, blocked products and exact top-n selection.

Every result is ``top_n(Q[r] @ B)`` for a block of query rows ``r``: a dense block of products
is computed on the device and each row's best ``n`` selected there, so only the lists come
back. Two products (the ``kernel`` setting):

``spmm``
    The queries are scattered into a dense ``(n_inner, block)`` matrix and multiplied by the
    sparse ``B.T`` (cuSPARSE's SpMM on a GPU): ``nnz(B) * n_queries`` multiply-adds (5e11 for
    all item pairs of ML-20M: 200 times fewer than the dense product's 1e14), streamed at
    memory bandwidth, with PyTorch alone.
``rows``
    A Triton kernel adds ``x * B[u, :]`` into each query row's output for each of its entries
    ``(u, x)`` (:mod:`recframe_gpu.row_kernel`): ``sum_u deg(u)^2`` multiply-adds (1e10 on
    ML-20M), gathered and scattered within one output row that stays in cache.

The blocks are sized by ``max_memory_mb``; indices are 32-bit unless the sizes need 64 bits.

Selection is exact, as the CPU engine's: positive entries only, ties broken by the lower
column, leftover places padded with ``-1`` (score 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

_WIDEST_32 = 2**31 - 1
Finish = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""Turns a block of products ``(block, n_targets)`` of the query rows given second into similarities."""


def tensor(array: np.ndarray, device: str | torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return `array` as a tensor on `device` (read-only arrays, such as a loaded model's, are copied first)."""
    host = torch.from_numpy(array if array.flags.writeable else np.array(array))
    return host.to(device=device, dtype=dtype or host.dtype)


@dataclass(frozen=True)
class DeviceRows:
    """Canonical CSR rows on a torch device, with a sparse tensor for products.

    Attributes
    ----------
    indptr : Tensor of int64
        Row offsets (always 64-bit: gathers add to them).
    csr : Tensor
        The same rows as a torch sparse CSR tensor; its indices are int32 unless the number of
        entries or a dimension needs int64.
    shape : tuple of int
        ``(n_rows, n_columns)``.
    """

    indptr: torch.Tensor
    csr: torch.Tensor
    shape: tuple[int, int]

    @classmethod
    def upload(cls, rows: sp.csr_array, device: str, dtype: torch.dtype, *, pattern: bool = False) -> DeviceRows:
        """Copy canonical CSR `rows` to `device` as `dtype` (``pattern``: every stored value as 1)."""
        wide = rows.nnz > _WIDEST_32 or max(rows.shape) > _WIDEST_32
        index = torch.int64 if wide else torch.int32
        indptr = tensor(np.asarray(rows.indptr, dtype=np.int64), device)
        values = np.ones(rows.nnz) if pattern else rows.data
        with warnings.catch_warnings():  # torch calls its sparse CSR support "beta" on every construction
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
            csr = torch.sparse_csr_tensor(
                indptr.to(index),
                tensor(rows.indices, device, index),
                tensor(values, device, dtype),
                size=rows.shape,
                check_invariants=False,
            )
        return cls(indptr, csr, (int(rows.shape[0]), int(rows.shape[1])))

    @property
    def indices(self) -> torch.Tensor:
        """Column of every stored entry."""
        return self.csr.col_indices()

    @property
    def values(self) -> torch.Tensor:
        """Value of every stored entry."""
        return self.csr.values()

    def entries(self, picked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(position in picked, storage offset)`` of every entry of the `picked` rows (``-1``: none)."""
        real = picked >= 0
        rows = picked.clamp(min=0)
        starts = self.indptr[rows]
        lengths = torch.where(real, self.indptr[rows + 1] - starts, 0)
        total = int(lengths.sum())
        position = torch.repeat_interleave(torch.arange(len(picked), device=picked.device), lengths, output_size=total)
        first = torch.cumsum(lengths, 0) - lengths
        offset = starts[position] + torch.arange(total, device=picked.device) - first[position]
        return position, offset

    def dense_t(self, picked: torch.Tensor) -> torch.Tensor:
        """Return the `picked` rows as a dense ``(n_columns, len(picked))`` matrix (row ``-1``: zeros)."""
        out = torch.zeros((self.shape[1], len(picked)), dtype=self.values.dtype, device=picked.device)
        position, offset = self.entries(picked)
        out[self.indices[offset].long(), position] = self.values[offset]
        return out

    def mask(self, scores: torch.Tensor, picked: torch.Tensor) -> None:
        """Set ``scores[p, c]`` to ``-inf`` for every entry ``(picked[p], c)`` of these rows."""
        position, offset = self.entries(picked)
        scores[position, self.indices[offset].long()] = -torch.inf


def select_top_n(scores: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each row's `n` largest finite entries, best first, ties to the lower column.

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_columns)
        Scores, ``-inf`` where a column may not be chosen; overwritten.
    n : int
        Entries kept per row (at most ``n_columns``).

    Returns
    -------
    columns : Tensor of int64, shape (n_rows, n)
        ``-1`` pads rows with fewer finite entries.
    values : Tensor of float64, shape (n_rows, n)
        ``0.0`` where ``columns`` is ``-1``.
    """
    # topk picks any of the entries that tie with the n-th; keep exactly the lowest columns among them
    nth = torch.topk(scores, n, dim=1, sorted=True).values[:, -1:]
    above = scores > nth
    tied = scores == nth
    rank = torch.cumsum(tied, dim=1, dtype=torch.int32)
    left = n - above.sum(dim=1, keepdim=True, dtype=torch.int32)
    scores.masked_fill_(~(above | (tied & (rank <= left))), -torch.inf)
    values, columns = torch.topk(scores, n, dim=1, sorted=False)
    real = torch.isfinite(values)
    columns = torch.where(real, columns, scores.shape[1])
    by_column = torch.argsort(columns, dim=1)
    columns, values = columns.gather(1, by_column), values.gather(1, by_column)
    values, by_value = torch.sort(values, dim=1, descending=True, stable=True)
    columns, real = columns.gather(1, by_value), torch.isfinite(values)
    return torch.where(real, columns, -1), torch.where(real, values, 0.0).to(torch.float64)


@dataclass(frozen=True)
class Product:
    """One way to compute dense blocks of a product ``Q[rows] @ B`` on the device.

    Attributes
    ----------
    compute : callable
        ``compute(rows)`` returns the ``(len(rows), n_columns)`` products of the query rows
        ``rows`` (a tensor of int64 on the device; ``-1`` gives a row of zeros).
    n_columns : int
        Columns of the product.
    extra_bytes : int
        Device memory per query row besides its output row (its dense copy, for ``spmm``).
    """

    compute: Callable[[torch.Tensor], torch.Tensor]
    n_columns: int
    extra_bytes: int


def spmm_product(queries: DeviceRows, targets: DeviceRows) -> Product:
    """Return the ``spmm`` product ``Q[rows] @ T.T``: the sparse `targets` times the dense query rows.

    Parameters
    ----------
    queries : DeviceRows of shape (n_queries, n_inner)
    targets : DeviceRows of shape (n_targets, n_inner)
    """

    def compute(rows: torch.Tensor) -> torch.Tensor:
        products: torch.Tensor = torch.sparse.mm(targets.csr, queries.dense_t(rows))
        return products.T.contiguous()

    return Product(compute, targets.shape[0], queries.shape[1] * queries.values.element_size())


def product_top_n(
    product: Product,
    picked: np.ndarray,
    n: int,
    *,
    finish: Finish | None = None,
    seen: DeviceRows | None = None,
    exclude: sp.csr_array | None = None,
    exclude_self: bool = False,
    max_memory_mb: int = 2048,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Return the best `n` positive entries of each row of the `product` for the query rows `picked`, in blocks.

    Parameters
    ----------
    product : Product
        How blocks of the product are computed (:func:`spmm_product`, or ``rows_product`` of
        :mod:`recframe_gpu.row_kernel`).
    picked : ndarray of int64
        Query rows to answer; ``-1`` gives an empty result row.
    n : int
        Entries kept per row (at most ``product.n_columns``).
    finish : callable, optional
        Turns a block of products into similarities (``finish(products, picked_block)``).
    seen : DeviceRows of shape (n_queries, n_columns), optional
        Columns to leave out, by query row (seen items).
    exclude : csr_array of shape (len(picked), n_columns), optional
        Columns to leave out, by position in `picked`.
    exclude_self : bool
        Leave out column ``r`` of query row ``r``.
    max_memory_mb : int
        Device memory for one block's products, dense queries and selection.
    device : str or torch.device
        Where the product runs.

    Returns
    -------
    columns : ndarray of int64, shape (len(picked), n)
    scores : ndarray of float64, shape (len(picked), n)
    """
    per_query = product.extra_bytes + product.n_columns * 48  # products, masks and selection (float64)
    block = max(1, min(len(picked), (max_memory_mb << 20) // per_query))
    columns = np.full((len(picked), n), -1, dtype=np.int64)
    scores = np.zeros((len(picked), n))
    for start in range(0, len(picked), block):
        rows = tensor(np.asarray(picked[start : start + block], dtype=np.int64), device)
        products = product.compute(rows)
        if finish is not None:
            products = finish(products, rows)
        products.masked_fill_(~(products > 0), -torch.inf)
        if seen is not None:
            seen.mask(products, rows)
        if exclude is not None:
            part = sp.coo_array(exclude[start : start + len(rows)])
            products[tensor(part.row.astype(np.int64), device), tensor(part.col.astype(np.int64), device)] = -torch.inf
        if exclude_self:
            real = torch.nonzero(rows >= 0).squeeze(1)
            products[real, rows[real]] = -torch.inf
        kept, values = select_top_n(products, n)
        columns[start : start + len(rows)] = kept.cpu().numpy()
        scores[start : start + len(rows)] = values.cpu().numpy()
    return columns, scores
