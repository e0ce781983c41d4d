"""The kernels' disk cache is dropped when any source of the compiled package changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from recframe.engine._compiled.cache_stamp import STAMP_NAME, drop_stale_cache, kernel_cache_dir, sources_hash


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "kernels"
    source.mkdir()
    (source / "caller.py").write_text("def caller(): return helper()\n")
    (source / "helper.py").write_text("def helper(): return 1\n")
    return source, source / "__pycache__"


def _cache_files(cache: Path) -> list[str]:
    names = ["caller.caller-1.py311.nbi", "caller.caller-1.py311.1.nbc", "helper.helper-1.py311.nbi"]
    cache.mkdir(exist_ok=True)
    for name in names:
        (cache / name).write_bytes(b"compiled")
    return names


def test_a_cache_without_a_stamp_is_dropped_and_stamped(package):
    source, cache = package
    names = _cache_files(cache)
    (cache / "caller.cpython-311.pyc").write_bytes(b"bytecode")  # Python's own: kept
    (cache / "elsewhere.f-1.py311.nbi").write_bytes(b"compiled")  # not a module of the package: kept
    assert drop_stale_cache(source, cache)
    assert not any((cache / name).exists() for name in names)
    assert (cache / "caller.cpython-311.pyc").exists()
    assert (cache / "elsewhere.f-1.py311.nbi").exists()
    assert (cache / STAMP_NAME).read_text() == sources_hash(source)


def test_a_cache_for_the_same_sources_is_kept(package):
    source, cache = package
    drop_stale_cache(source, cache)
    names = _cache_files(cache)
    assert not drop_stale_cache(source, cache)
    assert all((cache / name).exists() for name in names)


def test_editing_a_helper_drops_its_callers_cache(package):
    """A caller's cache holds the helper's old code even though the caller's file did not change."""
    source, cache = package
    drop_stale_cache(source, cache)
    names = _cache_files(cache)
    (source / "helper.py").write_text("def helper(): return 2\n")
    assert drop_stale_cache(source, cache)
    assert not any((cache / name).exists() for name in names)
    assert not drop_stale_cache(source, cache)


def test_editing_a_compiled_module_outside_the_package_drops_the_cache(package, tmp_path):
    """A formula compiled into the package's kernels from another module (as search.py compiles measures.py)."""
    source, cache = package
    formula = tmp_path / "formulas.py"
    formula.write_text("def score(x): return x\n")
    drop_stale_cache(source, cache, (formula,))
    names = _cache_files(cache)
    assert not drop_stale_cache(source, cache, (formula,))
    formula.write_text("def score(x): return 2 * x\n")
    assert drop_stale_cache(source, cache, (formula,))
    assert not any((cache / name).exists() for name in names)


def test_a_missing_cache_directory_is_created_with_its_stamp(package):
    source, cache = package
    assert drop_stale_cache(source, cache)
    assert (cache / STAMP_NAME).exists()


def test_an_unwritable_cache_is_left_alone(package, monkeypatch):
    source, cache = package
    cache.write_text("not a directory")  # mkdir and listing fail
    assert drop_stale_cache(source, cache)
    assert cache.read_text() == "not a directory"


def test_the_real_kernels_are_stamped_where_numba_caches_them():
    pytest.importorskip("numba")
    import recframe.engine._compiled as compiled
    from recframe.engine._compiled.heaps import _keep

    where = kernel_cache_dir(compiled._probe)
    assert where is not None
    assert where == Path(_keep._cache._cache_path)
    here = Path(compiled.__file__).parent
    assert (where / STAMP_NAME).read_text() == sources_hash(here, (here.parent / "measures.py",))
