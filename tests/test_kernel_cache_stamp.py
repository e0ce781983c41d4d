"""The kernels' disk cache follows every source of the compiled package, not only the kernel's own file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recframe.engine._compiled import cache_stamp
from recframe.engine._compiled.cache_stamp import install, sources_hash

pytest.importorskip("numba")

CALLER = """
import numba
from kern.helper import helper

@numba.njit(cache=True)
def caller(x):
    return helper(x)
"""


def _helper(increment: int) -> str:
    return f"import numba\n\n@numba.njit\ndef helper(x):\n    return x + {increment}\n"


STAMPED_INIT = f"""
import importlib.util, sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("stamp", {str(Path(cache_stamp.__file__))!r})
stamp = sys.modules["stamp"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stamp)
stamp.install(Path(__file__).parent)
"""
"""A package that stamps its cache, as recframe's kernels do. It loads the stamp's module from its file (it
needs only the standard library and numba): each process then spends its second on numba, not on importing
recframe as well."""


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A package whose cached kernel (`caller`) compiles a helper of another module, stamped or not."""
    for name, stamped in (("kern", True), ("plain", False)):
        source = tmp_path / name / "kern"
        source.mkdir(parents=True)
        (source / "__init__.py").write_text(STAMPED_INIT if stamped else "")
        (source / "caller.py").write_text(CALLER)
        (source / "helper.py").write_text(_helper(1))
    return tmp_path


def _run(root: Path, name: str, code: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / name), *sys.path]),
        "NUMBA_CACHE_DIR": str(root / f"cache-{name}"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, text=True, **kwargs
    )  # type: ignore[call-overload]


def _result(root: Path, name: str, code: str) -> str:
    process = _run(root, name, code)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    return out.strip()


def _edit_helper(root: Path, name: str, increment: int) -> None:
    (root / name / "kern" / "helper.py").write_text(_helper(increment))


def test_the_hash_follows_every_module_and_the_extra_sources(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    extra = tmp_path / "formulas.txt"
    extra.write_text("f = 1\n")
    first = sources_hash(tmp_path, (extra,))
    assert sources_hash(tmp_path, (extra,)) == first
    (tmp_path / "b.py").write_text("y = 2\n")
    second = sources_hash(tmp_path, (extra,))
    extra.write_text("f = 2\n")
    assert len({first, second, sources_hash(tmp_path, (extra,))}) == 3


def test_an_edited_helper_is_compiled_again(package: Path) -> None:
    """numba alone keeps the caller's cached code with the old helper inlined; the stamp does not."""
    call = "from kern.caller import caller; print(caller(1))"
    for name in ("kern", "plain"):
        assert _result(package, name, call) == "2"
        _edit_helper(package, name, 100)
    assert _result(package, "plain", call) == "2"  # numba's own check: stale (the reason for the stamp)
    assert _result(package, "kern", call) == "101"


def test_a_process_running_older_sources_does_not_leave_them_to_newer_ones(package: Path) -> None:
    """A process started before a pull compiles a new signature after it: later processes still run the new code."""
    go = package / "go"
    old = _run(
        package,
        "kern",
        f"""
        import os, time
        from kern.caller import caller
        print(caller(1), flush=True)
        deadline = time.monotonic() + 120
        while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(caller(1.0), flush=True)
        """,
    )
    try:
        assert old.stdout is not None
        assert old.stdout.readline().strip() == "2"
        _edit_helper(package, "kern", 100)
        assert _result(package, "kern", "from kern.caller import caller; print(caller(1))") == "101"
        go.touch()
        assert old.communicate(timeout=120)[0].strip() == "2.0"  # its own sources: the old helper
    finally:
        go.touch()
        if old.poll() is None:
            old.kill()
        old.communicate()
    later = "from kern.caller import caller; print(caller(1.0), caller(1))"
    assert _result(package, "kern", later) == "101.0 101"


def test_sources_that_are_not_files_leave_numba_alone(tmp_path: Path) -> None:
    assert not install(tmp_path / "archive.zip" / "kern")


def test_the_real_kernels_are_stamped() -> None:
    import recframe.engine._compiled as compiled
    from recframe.engine._compiled.heaps import _keep

    here = Path(compiled.__file__).parent
    stamp = _keep._cache._impl.locator.get_source_stamp()
    assert stamp[1] == sources_hash(here, (here.parent / "measures.py",))
    assert install(here, (here.parent / "measures.py",))  # once per process: a second call changes nothing


def test_kernels_compile_where_numba_finds_no_writable_cache(tmp_path: Path) -> None:
    """Installed by root, run by a user whose home is not writable: cached in a private temporary folder, not refused.

    The subprocess takes every locator of numba's away first (as if none found a writable
    folder); numba alone then raises "no locator available" when the first kernel module is
    imported (its functions are decorated). One small kernel is then compiled and run.
    """
    code = """
        import logging
        import numpy as np
        import numba.core.caching as caching
        caching.CacheImpl._locator_classes[:] = []  # no writable folder anywhere
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        from recframe.engine._compiled.heaps import _keep
        values, rows = np.zeros(2), np.zeros(2, dtype=np.int64)
        size = 0
        for v, j in ((0.5, 3), (0.9, 1), (0.7, 2)):
            size = _keep(values, rows, size, 2, v, j)
        print(size, sorted(rows.tolist()))
    """
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "2 [1, 2]"  # the best two of three
    folder = tmp_path / f"recframe-numba-{os.getuid()}"
    assert f"so they are cached in {folder}; set NUMBA_CACHE_DIR" in done.stderr
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert any(folder.rglob("*.nbi"))  # numba's cache index: the kernel was cached there
