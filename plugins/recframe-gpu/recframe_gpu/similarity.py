"""The ``gpu`` similarity backend: exact top-k neighbours by blocked products on a GPU.

The same neighbour lists as the built-in ``sparse`` backend (cosine, dot, asymmetric cosine,
jaccard): a row is never its own neighbour, rows of similarity 0 or less are no neighbours, and
ties go to the lower row. See :mod:`recframe_gpu.kernels` for the algorithm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, PositiveInt, model_validator

from recframe import (
    NeighbourGraph,
    PluginError,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    State,
    check_fitted,
    csr_from_state,
    csr_state,
)
from recframe.engine import MeasureSpec, row_totals, top_k_by_measure, top_n_product
from recframe_gpu.settings import CPU_ENGINE, DeviceSettings, device_where_loaded, resolve_device

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe import FloatArray, IntArray
    from recframe_gpu.kernels import Finish

GPUMeasure = Literal["cosine", "dot", "asymmetric_cosine", "jaccard"]


def canonical(rows: sp.csr_array) -> sp.csr_array:
    """Return `rows` as float64 CSR with sorted indices and no duplicates; the values are a copy.

    Canonical input (an ``InteractionMatrix`` always is) shares its index arrays with the result,
    which saves copying them on large data.
    """
    rows = sp.csr_array(rows)
    if rows.has_canonical_format:
        data = rows.data.astype(np.float64, copy=True)
        return sp.csr_array((data, rows.indices, rows.indptr), shape=rows.shape, copy=False)
    prepared = sp.csr_array(rows, dtype=np.float64, copy=True)
    prepared.sum_duplicates()
    prepared.sort_indices()
    return prepared


class GPUSimilarityConfig(SimilarityConfig, DeviceSettings):
    """Parameters of :class:`GPUSimilarity`."""

    measure: GPUMeasure = "cosine"
    """Similarity of two rows ``a`` and ``b``, as the ``sparse`` backend's measure of the same
    name: ``cosine`` ``a.b / (|a| |b|)``; ``dot`` ``a.b``; ``asymmetric_cosine`` ``a.b /
    (|a|^(2 alpha) |b|^(2 (1 - alpha)))``; ``jaccard`` ``n / (|a| + |b| - n)`` with ``n`` the
    number of shared columns and ``|a|`` the number of a's entries."""
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    """``alpha`` of ``asymmetric_cosine`` (0.5 is the cosine); the other measures refuse another value."""
    max_memory_mb: PositiveInt = 2048
    """Device memory for one block of query rows: their dense copy, their products with every
    row and the selection of the best ``k``; the rows themselves are on the device besides."""
    engine: Literal["auto", "numba", "scipy"] = "auto"
    """Implementation of recframe's CPU engine when ``no_gpu: cpu`` runs it (see ``sparse``)."""

    run_settings: ClassVar[frozenset[str]] = SimilarityConfig.run_settings | {"max_memory_mb", "engine"}

    @model_validator(mode="after")
    def _alpha_of_the_measure(self) -> Self:
        if self.measure != "asymmetric_cosine" and self.alpha != 0.5:
            msg = f"measure {self.measure!r} has no alpha (it changes nothing); alpha applies to asymmetric_cosine"
            raise ValueError(msg)
        return self


class GPUSimilarity(SimilarityBackend):
    """Exact k nearest neighbours of sparse rows, computed on a GPU with PyTorch.

    Each block of query rows is multiplied by all fitted rows on the device and reduced there to
    its best ``k`` (see :mod:`recframe_gpu.kernels`), so only the graph comes back to the host.
    With ``precision: float64`` the lists are the ``sparse`` backend's, scores to rounding, but
    for the order or the choice among scores equal to rounding (a sum in another order can put
    an exact tie one ulp either way).

    Attributes
    ----------
    rows_ : csr_array of shape (n_rows, n_features)
        The fitted rows as a query sees them: L2-normalised for cosine, as given otherwise.
    device_ : str
        Where queries run: ``"cuda"``, ``"cpu"`` (PyTorch) or ``"engine"`` (recframe's CPU engine).
    """

    name = "gpu"
    Config = GPUSimilarityConfig
    config: GPUSimilarityConfig
    rows_: sp.csr_array | None = None
    device_: str | None = None
    _totals: tuple[FloatArray, FloatArray]
    _on_device: Any = None  # (fitted rows, right factor) as DeviceRows, uploaded at the first query
    _transposed: sp.csr_array | None = None  # the fitted rows transposed, made at first use

    def fit(self, rows: sp.csr_array) -> Self:
        """Keep (for cosine, normalised) copies of `rows`; choose the device.

        Raises
        ------
        ConfigError
            If no GPU (or no PyTorch) is present for ``device: cuda`` and ``no_gpu`` is ``error``.
        """
        device = resolve_device(self.config, f"similarity {self.name!r}")
        self._set(self._prepare(rows), device)
        return self

    def _set(self, rows: sp.csr_array, device: str) -> None:
        self.rows_, self.device_ = rows, device
        self._totals = row_totals(rows)
        self._on_device, self._transposed = None, None

    def _prepare(self, rows: sp.csr_array) -> sp.csr_array:
        """Return canonical float64 rows, L2-normalised for cosine (empty rows stay empty)."""
        prepared = canonical(rows)
        if self.config.measure == "cosine":
            norms = row_totals(prepared)[0]
            lengths = np.diff(prepared.indptr)
            prepared.data /= np.repeat(np.where(norms > 0, norms, 1.0), lengths)
        return prepared

    def get_state(self) -> State:
        """Return the prepared rows (``rows.*``); the device is chosen again where the state is loaded."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        return csr_state("rows", self.rows_)

    def set_state(self, state: State) -> None:
        """Restore what :meth:`get_state` returned and choose the device here (the CPU engine if none fits)."""
        rows = csr_from_state(state, "rows")
        if rows.dtype != np.float64:
            msg = f"{type(self).__name__}: the state's rows are {rows.dtype}; expected float64"
            raise PluginError(msg)
        self._set(rows, device_where_loaded(self.config, f"similarity {self.name!r}"))

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Allow row-by-row updates: every measure depends only on the two rows compared."""
        return None

    def update_measure(self) -> Literal["cosine", "dot"] | None:
        """Cosine and dot are updated from dot products, as the ``sparse`` backend's."""
        measure = self.config.measure
        return measure if measure in ("cosine", "dot") else None

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the host side of ``fit(rows).neighbours(k=k)``: the graph, and the prepared rows (twice).

        The multiply-adds are those of the configured ``kernel`` (``nnz * n_rows`` for ``spmm``,
        ``sum over columns of count^2`` for ``rows``); device memory is bounded by ``max_memory_mb``
        besides the rows themselves.
        """
        k = self.config.k if k is None else k
        n, nnz = rows.shape[0], int(rows.nnz)
        if self.config.kernel == "spmm":
            work = nnz * n
        else:
            shared = np.bincount(sp.csr_array(rows).indices, minlength=rows.shape[1]).astype(np.int64)
            work = int((shared**2).sum())
        return ResourceEstimate(work, n * k * 16, 2 * nnz * 16)

    def neighbours(self, rows: IntArray | None = None, k: int | None = None) -> NeighbourGraph:
        """Return the nearest other fitted rows of `rows` (all rows by default)."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        n = self.rows_.shape[0]
        picked = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        k = min(self.config.k if k is None else k, max(n - 1, 0))
        return self._search(self.rows_, picked, k, exclude_self=True)

    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        """Return the nearest fitted rows of new vectors (nothing is excluded)."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        k = min(self.config.k if k is None else k, self.rows_.shape[0])
        prepared = self._prepare(vectors)
        return self._search(prepared, np.arange(prepared.shape[0]), k, exclude_self=False)

    def _search(self, queries: sp.csr_array, picked: IntArray, k: int, *, exclude_self: bool) -> NeighbourGraph:
        assert self.rows_ is not None
        n = self.rows_.shape[0]
        if k == 0 or len(picked) == 0:
            return NeighbourGraph(np.full((len(picked), k), -1, dtype=np.int64), np.zeros((len(picked), k)), n)
        if self.device_ == CPU_ENGINE:
            columns, scores = self._on_cpu_engine(queries, picked, k, exclude_self=exclude_self)
        else:
            columns, scores = self._on_torch(queries, picked, k, exclude_self=exclude_self)
        return NeighbourGraph(columns, scores, n)

    def _on_cpu_engine(
        self, queries: sp.csr_array, picked: IntArray, k: int, *, exclude_self: bool
    ) -> tuple[IntArray, FloatArray]:
        """Run recframe's CPU engine, with the ``sparse`` backend's kernels for these measures.

        Cosine runs as the dot product of the rows normalised at the fit (all a saved model
        keeps), where ``sparse`` divides the raw rows' dot products by their lengths: the
        scores agree to rounding, and exact ties can fall one ulp apart either way, so the
        lists may differ in the order or the choice among scores equal to rounding.
        """
        assert self.rows_ is not None
        c = self.config
        common = {"exclude_self": exclude_self, "engine": c.engine, "desc": f"{self.name}: neighbours (CPU engine)"}
        if c.measure in ("cosine", "dot"):
            return top_n_product(queries, picked, self._cpu_targets(), k, **common)  # type: ignore[arg-type]
        spec = MeasureSpec.of(c.measure, alpha=c.alpha)
        return top_k_by_measure(queries, picked, self._cpu_targets(), self._totals, spec, k, **common)  # type: ignore[arg-type]

    def _cpu_targets(self) -> sp.csr_array:
        """Return the fitted rows transposed (canonical), made once: the right factor of ``Q @ X.T``."""
        assert self.rows_ is not None
        if self._transposed is None:
            transposed = sp.csr_array(self.rows_.T)
            transposed.sort_indices()
            self._transposed = transposed
        return self._transposed

    def _on_torch(
        self, queries: sp.csr_array, picked: IntArray, k: int, *, exclude_self: bool
    ) -> tuple[IntArray, FloatArray]:
        """Run the PyTorch kernels on the chosen device."""
        import torch

        from recframe_gpu.kernels import DeviceRows, product_top_n, spmm_product

        assert self.rows_ is not None and self.device_ is not None
        c, device = self.config, self.device_
        dtype = torch.float64 if c.precision == "float64" else torch.float32
        pattern = c.measure == "jaccard"
        if self._on_device is None:  # the fitted rows, and (kernel: rows) their transpose
            fitted = DeviceRows.upload(self.rows_, device, dtype, pattern=pattern)
            right = (
                fitted if c.kernel == "spmm" else DeviceRows.upload(self._cpu_targets(), device, dtype, pattern=pattern)
            )
            self._on_device = (fitted, right)
        fitted, right = self._on_device
        own = queries is self.rows_
        on_device = fitted if own else DeviceRows.upload(queries, device, dtype, pattern=pattern)
        if c.kernel == "spmm":
            product = spmm_product(on_device, right)
        else:
            from recframe_gpu.row_kernel import rows_product

            product = rows_product(on_device, right)
        return product_top_n(
            product,
            picked,
            k,
            finish=self._finish(self._totals if own else row_totals(queries)),
            exclude_self=exclude_self,
            max_memory_mb=c.max_memory_mb,
            device=device,
        )

    def _finish(self, query_totals: tuple[FloatArray, FloatArray]) -> Finish | None:
        """Return what turns a block of products into the measure (``None`` for cosine and dot).

        The denominators are computed in float64 whatever the precision, as the CPU engine's.
        """
        import torch

        from recframe_gpu.kernels import tensor

        c, device = self.config, self.device_
        assert device is not None
        if c.measure == "asymmetric_cosine":
            left = tensor(query_totals[0], device) ** (2.0 * c.alpha)
            right = tensor(self._totals[0], device) ** (2.0 * (1.0 - c.alpha))

            def asymmetric(dots: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
                denominator = left[rows.clamp(min=0)][:, None] * right[None, :]
                return torch.where(denominator > 0, dots.double() / denominator, 0.0).to(dots.dtype)

            return asymmetric
        if c.measure == "jaccard":
            query_counts, counts = tensor(query_totals[1], device), tensor(self._totals[1], device)

            def jaccard(shared: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
                union = query_counts[rows.clamp(min=0)][:, None] + counts[None, :] - shared.double()
                return torch.where(shared > 0, shared.double() / union, 0.0).to(shared.dtype)

            return jaccard
        return None
