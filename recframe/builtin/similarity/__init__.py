"""Built-in similarity backends: ``sklearn_nn`` (the default) and ``sparse``.

``sklearn_nn`` (:mod:`.sklearn_nn`) is scikit-learn's exact nearest-neighbour search, the
reference; ``sparse`` (:mod:`.sparse`) is a sparse top-k product that gives the same neighbours
much faster and in less memory.
"""

from __future__ import annotations

from recframe import Component, hookimpl
from recframe.builtin.similarity.sklearn_nn import SklearnNNConfig, SklearnNNSimilarity
from recframe.builtin.similarity.sparse import SparseConfig, SparseSimilarity

__all__ = ["SklearnNNConfig", "SklearnNNSimilarity", "SparseConfig", "SparseSimilarity", "recframe_register_components"]


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in similarity backends."""
    return [SklearnNNSimilarity, SparseSimilarity]
