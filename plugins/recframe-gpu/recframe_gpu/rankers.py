"""The rankers ``gpu_item_cf`` and ``gpu_user_cf``: batch scoring of item_cf and user_cf on a GPU.

They score exactly as the built-in ``item_cf`` and ``user_cf`` (``R @ W`` and ``W @ R``, the
``overall`` neighbour policy) and return the same lists, but for the order or the choice among
scores equal to rounding: items scoring 0 or less are never
recommended, seen and excluded items are left out, ties go to the lower item. Blocks of users
are scored and reduced to their top ``n`` on the device (see :mod:`recframe_gpu.kernels`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt

from recframe import FloatArray, IntArray, ScoringConfig, ScoringRanker, State, TopN, check_fitted
from recframe.engine import top_n_product
from recframe_gpu.settings import CPU_ENGINE, DeviceSettings, device_where_loaded, resolve_device
from recframe_gpu.similarity import canonical


class GPURankerConfig(ScoringConfig, DeviceSettings):
    """Parameters of the GPU rankers."""

    max_memory_mb: PositiveInt = 2048
    """Device memory for one block of users: their dense rows, their scores against every item
    and the selection of the best ``n``; the matrices themselves are on the device besides."""
    history: Literal["values", "binary"] = "values"
    """What each interaction of the scored user's history (``gpu_item_cf``) or of a neighbour
    (``gpu_user_cf``) weighs in a score: its matrix value, or 1 (as ``item_cf``'s setting)."""
    engine: Literal["auto", "numba", "scipy"] = "auto"
    """Implementation of recframe's CPU engine when ``no_gpu: cpu`` runs it (see ``item_cf``)."""


class _GPUGraphRanker(ScoringRanker):
    """A ranker whose scores are ``A[u] @ B`` with its neighbour graph as ``W``, on a device."""

    config: GPURankerConfig
    device_: str | None = None
    _weights: sp.csr_array
    _history: sp.csr_array
    _on_device: Any = None  # (the product, the seen rows) on the device, made at the first recommend

    def prepare(self) -> None:
        """Build ``W`` from the graph and the history matrix; choose the device."""
        self._build()
        self.device_ = resolve_device(self.config, f"ranker {self.name!r}")

    def restore_prepared(self, state: State) -> None:
        """Build ``W`` again for a loaded model; choose the device here (the CPU engine if none fits)."""
        self._build()
        self.device_ = device_where_loaded(self.config, f"ranker {self.name!r}")

    def _build(self) -> None:
        """Build ``W`` from the graph, and the history matrix."""
        assert self.neighbours_ is not None and self.matrix_ is not None
        self._weights = self.neighbours_.to_csr()
        history = canonical(self.matrix_.matrix)
        if self.config.history == "binary":
            history.data[:] = 1.0
        self._history = history
        self._on_device = None

    @abstractmethod
    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        """Return ``(A, B)`` with ``scores[u] = A[u] @ B``."""

    def score_block(self, users: IntArray) -> FloatArray:
        """Return ``A[users] @ B`` as a dense block: the definition the kernels compute."""
        a, b = self._factors()
        return np.asarray((a[users] @ b).toarray())

    def recommend(self, users: IntArray, n: int | None = None, *, exclude: sp.csr_array | None = None) -> TopN:
        """Return the top-`n` items of each user (see :class:`CandidateRanker`)."""
        check_fitted(self, "matrix_")
        assert self.matrix_ is not None
        c = self.config
        users = np.asarray(users, dtype=np.int64)
        n = c.n if n is None else n
        width = min(n, self.matrix_.n_items)
        items = np.full((len(users), n), -1, dtype=np.int64)
        scores = np.zeros((len(users), n))
        if width == 0 or len(users) == 0:  # nothing to score: every place is empty
            return TopN(items, np.full(items.shape, np.nan))
        if self.device_ == CPU_ENGINE:
            a, b = self._factors()
            seen = self.matrix_.matrix if c.exclude_seen else None
            items[:, :width], scores[:, :width] = top_n_product(
                a,
                users,
                b,
                width,
                seen=seen,
                exclude=exclude,
                engine=c.engine,
                desc=f"{self.name}: scoring (CPU engine)",
            )
        else:
            items[:, :width], scores[:, :width] = self._on_torch(users, width, exclude)
        return TopN(items, np.where(items >= 0, scores, np.nan))

    def _on_torch(self, users: IntArray, n: int, exclude: sp.csr_array | None) -> tuple[IntArray, FloatArray]:
        """Score blocks of users with the PyTorch kernels on the chosen device."""
        import torch

        from recframe_gpu.kernels import DeviceRows, product_top_n, spmm_product

        assert self.matrix_ is not None and self.device_ is not None
        c = self.config
        if self._on_device is None:
            dtype = torch.float64 if c.precision == "float64" else torch.float32
            a, b = self._factors()
            queries = DeviceRows.upload(a, self.device_, dtype)
            if c.kernel == "spmm":
                transposed = sp.csr_array(b.T)
                transposed.sort_indices()
                product = spmm_product(queries, DeviceRows.upload(transposed, self.device_, dtype))
            else:
                from recframe_gpu.row_kernel import rows_product

                product = rows_product(queries, DeviceRows.upload(b, self.device_, dtype))
            # only the pattern of `seen` is read: item_cf's history is its seen matrix
            seen = queries if a is self._history else DeviceRows.upload(self._history, self.device_, dtype)
            self._on_device = (product, seen)
        product, seen = self._on_device
        return product_top_n(
            product,
            users,
            n,
            seen=seen if c.exclude_seen else None,
            exclude=exclude,
            max_memory_mb=c.max_memory_mb,
            device=self.device_,
        )


class GPUItemCFConfig(GPURankerConfig):
    """Parameters of :class:`GPUItemCFRanker`."""


class GPUItemCFRanker(_GPUGraphRanker):
    """Item-based CF scored on a GPU: ``item_cf``'s lists (``scores = R @ W``), computed in device blocks.

    ``score(u, i) = sum over items j of u of r(u, j) * sim(j, i)``, counting pairs where ``i``
    is among the ``k`` nearest neighbours of ``j``. Items scoring 0 or less are not
    recommended; ties go to the lower item.
    """

    name = "gpu_item_cf"
    Config = GPUItemCFConfig
    neighbour_axis: ClassVar[Literal["items"]] = "items"

    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        return self._history, self._weights


class GPUUserCFConfig(GPURankerConfig):
    """Parameters of :class:`GPUUserCFRanker`."""


class GPUUserCFRanker(_GPUGraphRanker):
    """User-based CF scored on a GPU: ``user_cf``'s lists (``scores = W @ R``), computed in device blocks.

    ``score(u, i) = sum over the k nearest users v of u of sim(u, v) * r(v, i)``. Items scoring
    0 or less are not recommended; ties go to the lower item.
    """

    name = "gpu_user_cf"
    Config = GPUUserCFConfig
    neighbour_axis: ClassVar[Literal["users"]] = "users"

    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        return self._weights, self._history
