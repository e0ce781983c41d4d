"""docs/engine.md works as written: its python blocks run in order, as one reader's session.

The guide's plugin example is then registered and checked by the same contract as the
built-in similarity backends.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from recframe import PluginRegistry, Recommender
from recframe.testing import SimilarityContract

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "engine.md"
BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return [code for lang, code in BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if lang == "python"]


def run_guide() -> types.ModuleType:
    module = types.ModuleType("recframe_engine_guide")
    for number, code in enumerate(python_blocks()):
        exec(compile(code, f"{GUIDE}:block{number}", "exec", dont_inherit=True), module.__dict__)
    return module


@pytest.fixture(scope="module")
def guide() -> types.ModuleType:
    return run_guide()


def test_the_guide_has_its_examples():
    codes = python_blocks()
    assert len(codes) >= 6
    assert all("from recframe.engine import" in code for code in codes[:2])


def test_every_python_block_runs(guide, capsys):
    assert guide.neighbours.tolist() == [[1, 4], [0, 3], [3, -1], [4, 2], [3, 0]]


def test_the_guide_plugin_registers_and_runs_in_a_recommender(guide):
    registry = PluginRegistry.from_environment(entry_points=False)
    registry.register(guide, name=guide.__name__, package="recframe-engine-guide", version="0.0")
    assert registry.get("similarity", "engine_cosine") is guide.EngineCosineSimilarity
    rec = Recommender(similarity=guide.EngineCosineSimilarity(k=2), registry=registry)
    rec.fit({"user": ["ann", "ann", "bob", "bob", "cy"], "item": ["a", "b", "a", "c", "b"]})
    # c's only neighbour is a (users {bob} and {ann, bob}: cosine 1/sqrt(2)); ann has a and b
    assert rec.recommend(["ann"]).to_dict() == {"ann": [("c", pytest.approx(2**-0.5))]}


def test_the_guide_plugin_keeps_the_similarity_contract(guide):
    class TestEngineCosine(SimilarityContract):
        component = guide.EngineCosineSimilarity
        configs = [{"k": 3}, {"k": 5, "engine": "scipy", "max_memory_mb": 1}]

    contract = TestEngineCosine()
    names = [name for name in dir(contract) if name.startswith("test_")]
    assert names
    for name in names:
        getattr(contract, name)()
