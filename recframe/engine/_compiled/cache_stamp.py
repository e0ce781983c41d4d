"""Keep numba's on-disk cache of the kernels in step with all of their sources.

numba revalidates a cached kernel against the timestamp of the one file that defines it, but a
kernel also carries the code of the helpers it calls or inlines from other modules of this
package (a heap, a scatter loop, the batch kernel inside the few-rows one) and the formulas of
:mod:`recframe.engine.measures`. Edit such a helper (a ``git pull`` into an editable install is
enough) and the caller's cache would keep running the old code, silently.

So the package's sources are hashed together when it is imported, and the kernels of the
package are cached through :class:`StampedLocator`: numba's own choice of directory, with the
hash added to the source stamp that numba stores in each cache index and compares on loading.
A process loads only kernels compiled from the sources it runs. A process still running older
sources (started before a pull) writes entries that newer processes refuse and compile again,
and the reverse: never stale code, at worst a compilation. Nothing is deleted.

Where numba finds no writable place at all (installed by root, run by another user whose home
is not writable, as in many containers; ``NUMBA_CACHE_DIR`` unset), its ``cache=True`` would
refuse to compile the kernels. They are then cached in a folder of the system's temporary
directory that only this user can write (:func:`fallback_cache_dir`), with a warning naming it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def sources_hash(package_dir: Path, extra_sources: Sequence[Path] = ()) -> str:
    """Hash every module of `package_dir` and each of `extra_sources`, by name and content."""
    digest = hashlib.sha256()
    for path in [*sorted(package_dir.glob("*.py")), *extra_sources]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def stamped_locator_class(package_dir: Path, digest: str, inner_classes: Sequence[Any]) -> Any:
    """Return a numba cache locator for the functions of `package_dir`'s modules, stamped with `digest`.

    It takes the locator the first of `inner_classes` (numba's own, in its order) gives, and
    keeps its directory; only the source stamp gains `digest`.
    """
    from numba.core.caching import _CacheLocator

    package = package_dir.resolve()

    class StampedLocator(_CacheLocator):
        """numba's locator for a kernel of the package, its source stamp joined with the package's hash."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def ensure_cache_path(self) -> None:
            self._inner.ensure_cache_path()

        def get_cache_path(self) -> str:
            return str(self._inner.get_cache_path())

        def get_source_stamp(self) -> object:
            return (self._inner.get_source_stamp(), digest)

        def get_disambiguator(self) -> str:
            return str(self._inner.get_disambiguator())

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> StampedLocator | None:
            if Path(py_file).resolve().parent != package:
                return None  # not a kernel of the package: numba's own locators decide
            for inner_class in [*inner_classes, fallback]:
                inner = inner_class.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
            return None

    fallback = fallback_locator_class()
    return StampedLocator


def fallback_locator_class() -> Any:
    """Return numba's locator of a given folder, set to :func:`fallback_cache_dir`: for when no other is writable."""
    from numba.core.caching import UserProvidedCacheLocator

    class FallbackLocator(UserProvidedCacheLocator):
        """numba's locator of ``NUMBA_CACHE_DIR``, in the folder :func:`fallback_cache_dir` picks instead."""

        def __init__(self, py_func: Any, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            subpath = self.get_suitable_cache_subpath(py_file)  # type: ignore[no-untyped-call]
            self._cache_path = os.path.join(fallback_cache_dir(), subpath)

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> FallbackLocator | None:
            # numba's own checks (a source file; a folder it can write), without needing NUMBA_CACHE_DIR
            try:
                found: FallbackLocator | None = super(UserProvidedCacheLocator, cls).from_function(  # type: ignore[no-untyped-call]
                    py_func, py_file
                )
            except OSError:  # not even the temporary directory is writable: numba says it has no locator
                return None
            return found

    return FallbackLocator


_fallback: list[str] = []


def fallback_cache_dir() -> str:
    """Return the folder of the kernels' cache where numba finds no writable one; warn once per process.

    ``<tmp>/recframe-numba-<uid>``, made with mode 0700: reused by later processes of the same
    user only while it is theirs alone (owned by them, writable by no one else), since numba
    loads cached code from it. Otherwise a fresh folder of this process (compiled again by the
    next one).
    """
    if not _fallback:
        user = os.getuid() if hasattr(os, "getuid") else os.getpid()
        folder = os.path.join(tempfile.gettempdir(), f"recframe-numba-{user}")
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            facts = os.lstat(folder)
            private = stat.S_ISDIR(facts.st_mode) and not facts.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            if not private or (hasattr(os, "getuid") and facts.st_uid != os.getuid()):
                folder = tempfile.mkdtemp(prefix="recframe-numba-")
        except OSError:
            folder = tempfile.mkdtemp(prefix="recframe-numba-")
        _fallback.append(folder)
        logger.warning(
            "numba can't cache the compiled kernels beside recframe or in this user's cache folder (neither is "
            "writable), so they are cached in %s; set NUMBA_CACHE_DIR to a writable folder to choose where",
            folder,
        )
    return _fallback[0]


def install(package_dir: Path, extra_sources: Sequence[Path] = ()) -> bool:
    """Cache the kernels of `package_dir` under a stamp of its sources (and `extra_sources`); once per process.

    Must run before the package's kernel modules are imported (numba picks a function's locator
    when it is decorated). Returns whether the stamped locator is in place: it is not where the
    sources can't be read as files (a zip, where numba stamps the whole archive anyway) or
    numba's (internal) locator API is not as expected; numba's own validation then applies.
    """
    try:
        from numba.core.caching import CacheImpl

        if not package_dir.is_dir():
            return False  # e.g. inside a zip: numba stamps the archive as a whole
        classes = CacheImpl._locator_classes
        if any(getattr(cls, "recframe_package", None) == str(package_dir) for cls in classes):
            return True
        digest = sources_hash(package_dir, extra_sources)
        locator = stamped_locator_class(package_dir, digest, list(classes))
        locator.recframe_package = str(package_dir)
        classes.insert(0, locator)
    except Exception as exc:  # an internal API, or sources that are not files: never stop an import over it
        logger.debug("kernel cache not stamped with the sources of %s: %s", package_dir, exc)
        return False
    return True
