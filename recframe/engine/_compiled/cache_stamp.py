"""Keep numba's on-disk cache of the kernels in step with all of their sources.

numba revalidates a cached kernel against the timestamp of the one file that defines it, but a
kernel also carries the code of the helpers it calls or inlines from other modules of this
package (a heap, a scatter loop, the batch kernel inside the few-rows one). Edit such a helper
(a ``git pull`` into an editable install is enough) and the caller's cache would keep running
the old code, silently. So the package's sources are hashed together, with the modules outside
it whose functions its kernels compile (:mod:`recframe.engine.measures`): the hash is written
next to the cache, and a cache written for other sources is removed before any kernel loads
from it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

STAMP_NAME = "recframe-kernels.stamp"
CACHE_SUFFIXES = (".nbi", ".nbc")  # numba's index and data files


def sources_hash(package_dir: Path, extra_sources: Sequence[Path] = ()) -> str:
    """Hash every module of `package_dir` and each of `extra_sources`, by name and content."""
    digest = hashlib.sha256()
    for path in [*sorted(package_dir.glob("*.py")), *extra_sources]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_cache(package_dir: Path, cache_dir: Path, extra_sources: Sequence[Path] = ()) -> bool:
    """Remove this package's numba cache files from `cache_dir` unless they were made for these sources.

    `extra_sources` are modules outside the package whose functions its kernels compile: a
    change of one drops the package's cache too (their own cache files, elsewhere, numba
    revalidates itself). Returns whether the cache was stale. Files of other modules and
    Python's own ``.pyc`` files
    are left alone; a cache directory that cannot be written is left as it is (numba then
    cannot save there either).
    """
    stamp = cache_dir / STAMP_NAME
    current = sources_hash(package_dir, extra_sources)
    try:
        if stamp.read_text() == current:
            return False
    except OSError:
        pass  # no stamp yet: a cache from before stamps, or none at all
    modules = {path.stem for path in package_dir.glob("*.py")}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for path in cache_dir.iterdir():
            if path.suffix in CACHE_SUFFIXES and path.name.split(".")[0] in modules:
                path.unlink(missing_ok=True)
        partial = cache_dir / f"{STAMP_NAME}.{os.getpid()}"
        partial.write_text(current)
        partial.replace(stamp)  # atomic: a concurrent process reads the old stamp or this one
    except OSError as exc:
        logger.debug("could not refresh the kernel cache in %s: %s", cache_dir, exc)
    return True


def kernel_cache_dir(probe: Callable[..., object]) -> Path | None:
    """Return the directory numba caches `probe`'s module's kernels in, as its own locators choose it.

    ``None`` where numba's (internal) locator API is not as expected: the check is then skipped
    and numba's own validation is all there is.
    """
    try:
        from numba.core.caching import CacheImpl

        for locator_class in CacheImpl._locator_classes:
            locator = locator_class.from_function(probe, probe.__code__.co_filename)  # type: ignore[attr-defined]
            if locator is not None:
                return Path(locator.get_cache_path())
    except Exception as exc:  # an internal API: never stop an import over it
        logger.debug("numba's cache locators are not as expected: %s", exc)
    return None
