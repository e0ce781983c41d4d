"""A read-only stream over bytes or a memory map, for the parsers that read streams."""

from __future__ import annotations

import io
import mmap
from typing import Any


class _View(io.RawIOBase):
    """A read-only stream over bytes or a memory map, from `start`, without copying them first."""

    def __init__(self, data: bytes | mmap.mmap, start: int = 0) -> None:
        self._data = memoryview(data)
        self._position = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def close(self) -> None:
        self._data.release()
        super().close()
