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
"""

from __future__ import annotations

import hashlib
import logging
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
            for inner_class in inner_classes:
                inner = inner_class.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
            return None

    return StampedLocator


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
