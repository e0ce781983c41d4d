"""Built-in candidate rankers: ``item_cf`` and ``user_cf`` (:mod:`.neighbourhood`) and ``popularity``."""

from __future__ import annotations

from recframe import Component, hookimpl
from recframe.builtin.rankers.neighbourhood import (
    GraphRankerConfig,
    ItemCFConfig,
    ItemCFRanker,
    UserCFConfig,
    UserCFRanker,
)
from recframe.builtin.rankers.popularity import PopularityConfig, PopularityRanker

__all__ = [
    "GraphRankerConfig",
    "ItemCFConfig",
    "ItemCFRanker",
    "PopularityConfig",
    "PopularityRanker",
    "UserCFConfig",
    "UserCFRanker",
    "recframe_register_components",
]


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in rankers."""
    return [ItemCFRanker, UserCFRanker, PopularityRanker]
