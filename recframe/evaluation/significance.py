"""The statistics of a paired comparison: bootstrap intervals, paired tests, Holm's correction, effect size.

Each works on the per-user values (or their differences) of the (fold, user) entries two runs
share; scipy is imported only when a test is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray


def holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values, in the order given."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, position in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[position])))
        adjusted[position] = running
    return adjusted.tolist()


def _bootstrap_interval(values: FloatArray, resamples: npt.NDArray[np.int64], chunk: int = 256) -> tuple[float, float]:
    """Return the 2.5% and 97.5% percentiles of the mean over bootstrap resamples of users."""
    means = np.concatenate([values[resamples[s : s + chunk]].mean(axis=1) for s in range(0, len(resamples), chunk)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _t_test(diff: FloatArray) -> float:
    """Two-sided paired t-test p-value of the differences.

    1.0 when they are all zero, or fewer than two (one pair shows no spread, so no test can
    tell a difference: scipy gives ``nan``, and a difference of one user is not significant);
    0.0 when two or more are all the same non-zero value (scipy's limit).
    """
    from scipy import stats

    if len(diff) < 2 or np.all(diff == 0):
        return 1.0
    if np.all(diff == diff[0]):
        return 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def _wilcoxon(diff: FloatArray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (zero differences dropped); 1.0 when all are zero."""
    from scipy import stats

    if np.count_nonzero(diff) == 0:
        return 1.0
    return float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)


def _effect_size(diff: FloatArray) -> float | None:
    """Paired Cohen's ``d_z``; ``None`` when the differences don't vary but are not all zero."""
    sd = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    if sd == 0.0:
        return 0.0 if np.all(diff == 0) else None
    value = float(diff.mean()) / sd
    return value if math.isfinite(value) else None
