"""The settings of the ``sparse`` similarity backend: :class:`SparseConfig`, checked against the measure.

Each modifier applies to some measures only; a value that would change nothing is refused
with the measures it applies to, rather than silently ignored.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from recframe import SimilarityConfig
from recframe.engine import GRAPH, Degree, Engine, Measure

USES_ALPHA = ("tversky", "asymmetric_cosine", "conditional_probability", "p3alpha", "rp3beta")
"""The measures with an ``alpha``."""
USES_BETA = ("tversky", "rp3beta")
"""The measures with a ``beta``."""


class SparseConfig(SimilarityConfig):
    """Parameters of :class:`SparseSimilarity`."""

    measure: Measure = "cosine"
    """Similarity of two rows ``a`` and ``b``; sums run over their co-rated columns ``C`` (see
    docs/similarity.md for every formula): ``cosine`` ``a.b / (|a| |b|)``; ``dot`` ``a.b``;
    ``corated_cosine`` ``a.b / sqrt(sum_C a^2 sum_C b^2)`` (Surprise's cosine);
    ``adjusted_cosine`` co-rated cosine of values centred by their column's mean (for item
    rows: the user's mean); ``pearson`` correlation over ``C``; ``msd`` ``1 / (1 + mean_C
    (a - b)^2)``; ``jaccard`` ``n / (|a| + |b| - n)``; ``dice`` ``2n / (|a| + |b|)``;
    ``tversky`` ``n / (n + alpha (|a| - n) + beta (|b| - n))``; ``asymmetric_cosine`` ``a.b /
    (|a|^(2 alpha) |b|^(2 (1 - alpha)))``; ``conditional_probability`` ``n / (|a| |b|^alpha)``;
    ``lift`` ``n N / (|a| |b|)``; ``p3alpha`` ``sum_c P(a -> c)^alpha P(c -> b)^alpha``, a
    three-step random walk between rows through the columns; ``rp3beta`` p3alpha divided by
    ``popularity(b)^beta``. ``n = |C|``; in the set measures ``|a|`` counts a's entries."""
    alpha: float | None = Field(None, ge=0.0, validate_default=True)
    """``alpha`` of tversky, asymmetric cosine (in [0, 1]), conditional probability (the
    popularity discount), and p3alpha and rp3beta (the power of the transition probabilities);
    by default 1 for p3alpha and rp3beta (the plain walk, as similaripy), 0.5 for the others.
    The resolved config shows the value used; another measure refuses a value other than 0.5."""
    beta: float = Field(0.5, ge=0.0)
    """``beta`` of tversky, and of rp3beta (the power of the popularity penalty: 0 is p3alpha);
    the other measures refuse a value other than 0.5."""
    degree: Degree = "sum"
    """Transition probabilities of p3alpha and rp3beta: ``sum`` (similaripy) ``P(a -> c) =
    x_ac / sum_c' x_ac'``, ``P(c -> b) = x_bc / sum_r x_rc`` and popularity the sum of a row's
    values; ``count`` (Dacrema et al. 2019's code) a uniform first step ``1 / |a|`` and
    popularity the number of entries. The same on binary data."""
    normalise: Literal["none", "l1"] = "none"
    """Divide each row's kept neighbour scores by their sum (``l1``, as Dacrema et al. 2019
    for p3alpha and rp3beta), so that every row's neighbours weigh 1 in total; ``none``
    keeps the similarities (similaripy)."""
    shrinkage: float = Field(0.0, ge=0.0)
    """Shrink each similarity towards 0 by its co-support: ``sim * n / (n + shrinkage)``."""
    min_support: PositiveInt = 1
    """Pairs with fewer co-rated columns than this get no similarity."""
    min_similarity: float | None = None
    """Similarities below this (after shrinkage) are dropped."""
    negative: Literal["drop", "keep"] = "drop"
    """Negative similarities (pearson, adjusted cosine): drop them, or keep them as neighbours
    ranked below every positive one."""
    engine: Engine = "auto"
    """Implementation: the compiled kernel (``numba``, needs ``pip install 'recframe[fast]'``),
    blocked scipy products (``scipy``), or numba when it is installed (``auto``)."""
    threads: PositiveInt | None = None
    """Threads of the compiled kernel; all cores by default."""
    max_memory_mb: PositiveInt = 1024
    """Working memory besides the result: the compiled kernel's per-thread heaps (it falls back
    to computing each pair twice when they don't fit) or the scipy engine's dense blocks."""

    run_settings: ClassVar[frozenset[str]] = SimilarityConfig.run_settings | {"engine", "threads", "max_memory_mb"}

    @field_validator("alpha", mode="after")
    @classmethod
    def _alpha_of_the_measure(cls, alpha: float | None, info: ValidationInfo) -> float | None:
        measure = info.data.get("measure")
        if measure is None:  # the measure is invalid: that is the error to report
            return alpha
        default = 1.0 if measure in GRAPH else 0.5
        if alpha is None:
            return default
        if measure not in USES_ALPHA and alpha != default:
            msg = f"measure {measure!r} has no alpha (it changes nothing); alpha applies to {', '.join(USES_ALPHA)}"
            raise ValueError(msg)
        if measure == "asymmetric_cosine" and alpha > 1.0:  # past 1 it rewards popular targets
            msg = f"asymmetric_cosine's alpha weighs the two rows' lengths, so it is in [0, 1]; got {alpha}"
            raise ValueError(msg)
        return alpha

    @field_validator("beta", mode="after")
    @classmethod
    def _beta_of_the_measure(cls, beta: float, info: ValidationInfo) -> float:
        measure = info.data.get("measure")
        if measure is not None and measure not in USES_BETA and beta != 0.5:
            msg = f"measure {measure!r} has no beta (it changes nothing); beta applies to {', '.join(USES_BETA)}"
            raise ValueError(msg)
        return beta

    @field_validator("degree", mode="after")
    @classmethod
    def _degree_of_a_walk(cls, degree: Degree, info: ValidationInfo) -> Degree:
        measure = info.data.get("measure")
        if degree != "sum" and measure is not None and measure not in GRAPH:
            msg = f"degree applies to p3alpha and rp3beta only, not to measure {measure!r}; leave it out"
            raise ValueError(msg)
        return degree

    @field_validator("negative", mode="after")
    @classmethod
    def _negative_of_a_walk(cls, negative: str, info: ValidationInfo) -> str:
        measure = info.data.get("measure")
        if negative == "keep" and measure in GRAPH:
            msg = f"measure {measure!r} is a walk's probability, never negative: 'keep' changes nothing; leave it out"
            raise ValueError(msg)
        return negative
