"""recframe-gpu: exact neighbour search and batch scoring on one GPU, with the CPU engine's lists up to ties.

Install the distribution with its PyTorch extra (``pip install 'recframe-gpu[torch]'``) and use
it in any run file::

    similarity: {type: gpu, measure: cosine, k: 50}
    ranker:     {type: gpu_item_cf, n: 10}

``gpu`` finds the same neighbours as the built-in ``sparse`` backend, ``gpu_item_cf`` and
``gpu_user_cf`` the same lists as ``item_cf`` and ``user_cf``, except where two scores are
equal to rounding: the device adds in another order, so such a tie may go the other way
(integer ratings make exact ties common). Every component takes
``device`` (``cuda``, ``cpu``, ``auto``), ``no_gpu`` (``error`` or ``cpu``: recframe's CPU
engine where no GPU is present), ``precision``, ``kernel`` (``spmm`` or ``rows``) and
``max_memory_mb``.
"""

from __future__ import annotations

from recframe import Component, hookimpl
from recframe_gpu.rankers import GPUItemCFConfig, GPUItemCFRanker, GPURankerConfig, GPUUserCFConfig, GPUUserCFRanker
from recframe_gpu.settings import DeviceSettings
from recframe_gpu.similarity import GPUSimilarity, GPUSimilarityConfig

__all__ = [
    "DeviceSettings",
    "GPUItemCFConfig",
    "GPUItemCFRanker",
    "GPURankerConfig",
    "GPUSimilarity",
    "GPUSimilarityConfig",
    "GPUUserCFConfig",
    "GPUUserCFRanker",
    "recframe_register_components",
]


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Return the GPU similarity backend and the GPU rankers."""
    return [GPUSimilarity, GPUItemCFRanker, GPUUserCFRanker]
