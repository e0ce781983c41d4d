"""The bytes of a delimited text file for the ``csv`` source: mapped, or decompressed and mapped.

A plain file is mapped into memory rather than read, which saves copying it into a fresh
buffer of its size. A ``.gz`` file or a ``.zip`` member is decompressed in bounded chunks into
an anonymous temporary file, which is then mapped, and refused as soon as it expands beyond
``max_decompressed_mb`` (or the memory available) or like a decompression bomb.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import mmap
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NoReturn, Protocol

from recframe import DataError
from recframe.builtin.data_sources.files import readable_path


class Limits(Protocol):
    """What reading a compressed file needs from the source's config (``CSVConfig`` has it)."""

    @property
    def max_decompressed_mb(self) -> int | None:
        """The most MiB a compressed file may expand to; ``None``: the memory available."""

    @property
    def member(self) -> str | None:
        """The file to read inside a ``.zip`` archive; ``None``: its only one."""


_CHUNK = 1 << 20
"""Bytes decompressed at a time."""
_DISK_MARGIN = 256 << 20
"""Free space left in the temporary folder when decompressing."""
MAX_RATIO = 200
"""Expansion beyond which a compressed file is taken for a decompression bomb (interaction
files compress 3- to 20-fold; a bomb 1,000-fold)."""
RATIO_FROM_BYTES = 64 << 20
"""Text size from which :data:`MAX_RATIO` applies (a small file may compress very well)."""
_FALLBACK_LIMIT = 20_000 << 20
"""The size limit when the memory available is unknown."""


@contextlib.contextmanager
def opened(path: Path, config: Limits) -> Iterator[bytes | mmap.mmap]:
    """Yield the file's bytes: mapped into memory, or decompressed (``.gz``, ``.zip``) and mapped.

    Mapping a plain file instead of reading it saves copying it into a fresh buffer of its
    size; both readers only look at the bytes. (A file truncated by another process while
    it is read is an error of the operating system, as with any mapping.) A compressed file
    is decompressed in chunks into an anonymous temporary file, which is then mapped: the
    decompressed text never sits in the process's own memory, and a file that expands
    beyond ``max_decompressed_mb`` (a decompression bomb) is refused as soon as it does.
    """
    content: bytes | mmap.mmap
    readable_path(path, "data.path")  # a FIFO or a device would block or read as empty
    try:
        content = _decompressed(path, config) if path.suffix.lower() in (".gz", ".zip") else _map(path)
    except FileNotFoundError:
        msg = f"{path}: file not found (data.path)"
        raise DataError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a directory, not a file (data.path)"
        raise DataError(msg) from None
    except (NotImplementedError, RuntimeError) as exc:  # zipfile: an encrypted member, an unknown method
        msg = (
            f"{path}: can't read the file: {exc} (data.path); members stored or compressed with "
            "deflate, bzip2 or lzma, without a password, can be read"
        )
        raise DataError(msg) from exc
    except (EOFError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error) as exc:
        kind = "gzip" if path.suffix.lower() == ".gz" else "zip"
        msg = f"{path}: can't read the file: not a complete {kind} file: {exc} (data.path); it is truncated or corrupt"
        raise DataError(msg) from exc
    except OSError as exc:
        msg = f"{path}: can't read the file: {getattr(exc, 'strerror', None) or exc} (data.path)"
        raise DataError(msg) from exc
    try:
        yield content
    finally:
        if isinstance(content, mmap.mmap):
            with contextlib.suppress(BufferError):  # a view kept alive by an error's traceback
                content.close()


def _decompressed(path: Path, config: Limits) -> bytes | mmap.mmap:
    """Decompress a ``.gz`` file or a ``.zip`` member in chunks to a temporary file; return it mapped.

    Memory stays bounded by the chunk size however large the text is; the temporary file
    has no name (it is gone when the mapping is closed, or the process ends). Decompression
    stops as soon as the text passes the size limit (``max_decompressed_mb``, by default the
    memory available), expands more than :data:`MAX_RATIO`-fold past
    :data:`RATIO_FROM_BYTES` (a decompression bomb; unless ``max_decompressed_mb`` is set),
    or would fill the temporary folder.
    """
    c = config
    limit = c.max_decompressed_mb * 2**20 if c.max_decompressed_mb is not None else _default_limit()
    folder = tempfile.gettempdir()
    room = shutil.disk_usage(folder).free - _DISK_MARGIN
    with contextlib.ExitStack() as stack:
        source: io.BufferedIOBase | IO[bytes]
        if path.suffix.lower() == ".gz":
            packed = path.stat().st_size
            source = stack.enter_context(gzip.open(path, "rb"))
        else:
            archive = stack.enter_context(zipfile.ZipFile(path))
            member = _zip_member(config, path, archive)
            packed = member.compress_size
            if member.file_size > limit:
                _too_big(config, path, f"its {member.filename!r} is {member.file_size:,} bytes", limit)
            source = stack.enter_context(archive.open(member))
        sink = stack.enter_context(tempfile.TemporaryFile(prefix="recframe-"))
        total = 0
        while chunk := source.read(_CHUNK):
            total += len(chunk)
            if total > limit:
                _too_big(config, path, f"it expands to more than {limit:,} bytes", limit)
            if c.max_decompressed_mb is None and total > RATIO_FROM_BYTES and total > MAX_RATIO * max(packed, 1):
                msg = (
                    f"{path}: it expands more than {MAX_RATIO}-fold ({packed:,} bytes to over {total:,}), "
                    "as a decompression bomb does (data.path); set data.max_decompressed_mb to read it anyway"
                )
                raise DataError(msg)
            if total > room:
                msg = (
                    f"{path}: decompressing it would fill the temporary folder {folder!r} "
                    f"(over {max(room, 0):,} bytes free) (data.path); set TMPDIR to a folder with more space"
                )
                raise DataError(msg)
            sink.write(chunk)
        sink.flush()
        return _map_open(sink)  # the mapping keeps the data after the file is closed
    raise AssertionError  # pragma: no cover - the with block returns or raises


def _too_big(config: Limits, path: Path, what: str, limit: int) -> NoReturn:
    setting = config.max_decompressed_mb
    why = (
        f"data.max_decompressed_mb ({setting:,} MB)"
        if setting is not None
        else (f"the memory available ({limit // 2**20:,} MB; data.max_decompressed_mb is unset)")
    )
    msg = (
        f"{path}: {what}, beyond {why}; a decompression bomb or a bigger file than expected: "
        "set data.max_decompressed_mb if it is genuine"
    )
    raise DataError(msg)


def _zip_member(config: Limits, path: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """Return the archive's member to read: ``data.member``, or its only file."""
    names = [n for n in archive.namelist() if not n.endswith("/")]
    member = config.member
    if not names:
        msg = (
            f"{path}: the archive is empty, it holds no files (data.path); "
            "point data.path at an archive holding the data file"
        )
        raise DataError(msg)
    if member is None:
        if len(names) != 1:
            msg = f"{path}: the archive holds {len(names)} files; choose one with data.member: {names[:10]}"
            raise DataError(msg)
        member = names[0]
    if member not in names:
        msg = f"{path}: no {member!r} in the archive (data.member); it holds {names[:10]}"
        raise DataError(msg)
    return archive.getinfo(member)


def _default_limit() -> int:
    """Return the default limit of decompressed bytes: the memory available now."""
    from recframe import available_memory

    return available_memory() or _FALLBACK_LIMIT


def _map(path: Path) -> bytes | mmap.mmap:
    """Return a read-only memory map of the file (empty bytes for an empty file)."""
    with path.open("rb") as fh:
        return _map_open(fh)


def _map_open(fh: IO[bytes]) -> bytes | mmap.mmap:
    """Return a read-only memory map of an open file (empty bytes for an empty one)."""
    if os.fstat(fh.fileno()).st_size == 0:
        return b""
    if hasattr(mmap, "MAP_POPULATE"):  # Linux: map every page in one call
        return mmap.mmap(fh.fileno(), 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
