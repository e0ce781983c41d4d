"""``RECFRAME_ENGINE`` fixes what ``engine: auto`` means in the whole process, the recommender's passes included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from recframe import Recommender
from recframe.engine import ENGINE_ENV, compiled_by_default, numba_available, resolve_engine

CONFIG = {"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "item_cf", "n": 4}}

SCRIPT = """
import json, sys
import recframe.engine.search, recframe.engine.transposes, recframe.engine.cells, recframe.engine.graph_matrices
import recframe.recommender.entry_passes, recframe.builtin.similarity.sparse_rows
from recframe import Recommender
from recframe.testing import random_interactions

# every compiled pass would run at this size if the engine allowed it
for module, name in [
    (recframe.engine.search, "COMPILED_TOTALS"),
    (recframe.engine.transposes, "COMPILED_TRANSPOSE"),
    (recframe.engine.cells, "COMPILED_MIN_ENTRIES"),
    (recframe.engine.graph_matrices, "COMPILED_GRAPH"),
    (recframe.recommender.entry_passes, "COMPILED_ENTRIES"),
    (recframe.builtin.similarity.sparse_rows, "COMPILED_CHECK"),
]:
    setattr(module, name, 0)
rec = Recommender.from_config(json.loads(sys.argv[1])).fit(random_interactions(seed=1))
rec.update({"user": [1, 70], "item": [9, 16], "rating": [1.0, 2.0], "timestamp": [1.7e9, 1.7e9]})
rec.forget(users=[4])
lists = rec.recommend([1, 2, 70], n=4)
print(json.dumps({"ids": lists.ids.tolist(), "scores": lists.scores.tolist(), "numba": "numba" in sys.modules}))
"""


def test_the_variable_fixes_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, " SciPy ")
    assert resolve_engine("auto") == "scipy"
    assert not compiled_by_default()
    monkeypatch.setenv(ENGINE_ENV, "auto")
    assert resolve_engine("auto") == ("numba" if numba_available() else "scipy")
    monkeypatch.setenv(ENGINE_ENV, "")
    assert resolve_engine("auto") == ("numba" if numba_available() else "scipy")


@pytest.mark.skipif(not numba_available(), reason="needs numba")
def test_an_explicit_engine_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "scipy")
    assert resolve_engine("numba") == "numba"
    monkeypatch.setenv(ENGINE_ENV, "numba")
    assert resolve_engine("scipy") == "scipy"
    assert resolve_engine("auto") == "numba"


def test_a_wrong_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "fast")
    with pytest.raises(ValueError, match=r"RECFRAME_ENGINE='fast' is not an engine; use numba, scipy or auto"):
        resolve_engine("auto")


def test_numba_asked_for_without_numba_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from recframe.engine import dispatch

    monkeypatch.setenv(ENGINE_ENV, "numba")
    monkeypatch.setattr(dispatch, "numba_available", lambda: False)
    with pytest.raises(ImportError, match=r"pip install 'recframe\[fast\]'"):
        resolve_engine("auto")


def test_scipy_keeps_fit_update_and_forget_off_numba_with_the_same_results() -> None:
    """Every pass that could run compiled (thresholds at 0) runs numpy/scipy: numba is never imported."""
    env = {**os.environ, ENGINE_ENV: "scipy"}
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), json.dumps(CONFIG)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["numba"] is False
    from recframe.testing import random_interactions

    rec = Recommender.from_config(CONFIG).fit(random_interactions(seed=1))
    rec.update({"user": [1, 70], "item": [9, 16], "rating": [1.0, 2.0], "timestamp": [1.7e9, 1.7e9]})
    rec.forget(users=[4])
    want = rec.recommend([1, 2, 70], n=4)
    assert got["ids"] == want.ids.tolist()
    np.testing.assert_allclose(got["scores"], want.scores, rtol=1e-12)
