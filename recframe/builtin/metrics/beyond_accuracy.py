"""Built-in beyond-accuracy metrics at a cut-off ``k``: coverage, Gini, novelty, popularity, diversity.

They read the recommended items and the training matrix, not the held-out ones: how widely
the lists spread over the catalogue, how popular or rare their items are, and how unlike each
other. Every formula is written in the class docstring, which is also the reference
documentation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe import FloatArray, Metric, MetricConfig, MetricInput
from recframe.builtin.metrics.lists import _floats, _mean_over_list, _top_items


class CoverageConfig(MetricConfig):
    """Parameters of :class:`Coverage`."""


class Coverage(Metric):
    """Catalogue coverage@k (of the run): the share of training items in at least one user's top ``k``."""

    name = "coverage"
    Config = CoverageConfig
    per_user = False

    def compute(self, data: MetricInput) -> float:
        """Return the share of the catalogue recommended to anyone."""
        items = _top_items(data, self.config.k)
        return float(np.unique(items[items >= 0]).size / max(data.train.n_items, 1))


class GiniConfig(MetricConfig):
    """Parameters of :class:`Gini`."""


class Gini(Metric):
    """Gini index of exposure@k (of the run): how unevenly the top-``k`` lists spread over the catalogue.

    With ``x_1 <= ... <= x_n`` the number of lists each of the ``n`` training items appears in,
    ``G = sum_i (2i - n - 1) x_i / (n sum_i x_i)``: 0 when every item is shown equally often,
    close to 1 when a few items take every slot; 0 when nothing is recommended.
    """

    name = "gini"
    Config = GiniConfig
    per_user = False
    higher_is_better = False

    def compute(self, data: MetricInput) -> float:
        """Return the Gini index of the items' exposure."""
        items = _top_items(data, self.config.k)
        n = data.train.n_items
        exposure = np.sort(np.bincount(items[items >= 0], minlength=n)).astype(np.float64)
        total = exposure.sum()
        if total == 0 or n == 0:
            return 0.0
        ranks = np.arange(1, n + 1)
        return float(((2 * ranks - n - 1) * exposure).sum() / (n * total))


class NoveltyConfig(MetricConfig):
    """Parameters of :class:`Novelty`."""


class Novelty(Metric):
    """Novelty@k: the mean self-information of the recommended items, ``-log2(users_i / n_users)``.

    ``users_i`` is the number of training users of item ``i`` and ``n_users`` the number of
    training users: an item everyone has seen scores 0, rarer items more. The mean is over the
    user's real top-``k`` items (0 for an empty list).
    """

    name = "novelty"
    Config = NoveltyConfig
    bounds = (0.0, np.inf)

    def compute(self, data: MetricInput) -> FloatArray:
        """Return the mean self-information of each user's list."""
        items = _top_items(data, self.config.k)
        real = items >= 0
        users = data.item_users[np.where(real, items, 0)]
        information = -np.log2(np.maximum(users, 1) / max(data.train.n_users, 1))
        return _mean_over_list(information, real)


class AveragePopularityConfig(MetricConfig):
    """Parameters of :class:`AveragePopularity`."""


class AveragePopularity(Metric):
    """Average popularity@k: the mean number of training users of the recommended items (0 for an empty list)."""

    name = "avg_popularity"
    Config = AveragePopularityConfig
    bounds = (0.0, np.inf)
    higher_is_better = False

    def compute(self, data: MetricInput) -> FloatArray:
        """Return the mean popularity of each user's list."""
        items = _top_items(data, self.config.k)
        real = items >= 0
        return _mean_over_list(data.item_users[np.where(real, items, 0)].astype(np.float64), real)


ILD_BLOCK_MB = 128
"""Memory of one block of item-item cosines in :class:`IntraListDiversity`."""


class IntraListDiversityConfig(MetricConfig):
    """Parameters of :class:`IntraListDiversity`."""


class IntraListDiversity(Metric):
    """Intra-list diversity@k: the mean dissimilarity ``1 - cos(i, j)`` over pairs of recommended items.

    ``cos`` is the cosine of the two items' columns in the training matrix (users as
    dimensions), whichever similarity backend the run used. The mean is over the pairs of the
    user's real top-``k`` items; lists with fewer than two items score 0.
    """

    name = "ild"
    Config = IntraListDiversityConfig
    bounds = (0.0, 2.0)  # cosines of centred ratings can be negative

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's mean pairwise dissimilarity.

        The cosines are computed only among the items that were recommended, a block of rows
        at a time (at most :data:`ILD_BLOCK_MB` of dense similarities), and read for every
        pair of list positions at once.
        """
        items = _top_items(data, self.config.k)
        shown, codes = np.unique(items, return_inverse=True)
        codes = codes.reshape(items.shape) - int(shown[0] < 0)  # padding (-1) stays -1
        shown = shown[shown >= 0]
        vectors = sp.csr_array(data.train.item_major()[shown], dtype=np.float64)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).reshape(-1)
        vectors = sp.csr_array(sp.diags_array(1.0 / np.where(norms > 0, norms, 1.0)) @ vectors)
        first, second = np.triu_indices(items.shape[1], 1)
        code_a, code_b = codes[:, first], codes[:, second]
        both = (code_a >= 0) & (code_b >= 0)
        cosine = np.zeros(code_a.shape)
        block = max(1, (ILD_BLOCK_MB << 20) // max(8 * len(shown), 1))
        transposed = sp.csr_array(vectors.T)
        for start in range(0, len(shown), block):
            dense = (vectors[start : start + block] @ transposed).toarray()
            here = both & (code_a >= start) & (code_a < start + block)
            cosine[here] = dense[code_a[here] - start, code_b[here]]
        total = np.where(both, 1.0 - cosine, 0.0).sum(axis=1)
        pairs = both.sum(axis=1)
        return _floats(np.clip(np.divide(total, pairs, out=np.zeros_like(total), where=pairs > 0), 0.0, 2.0))
