"""What a fast column reader of the ``csv`` source is asked to read (:mod:`.readers`)."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Request:
    """What to read from a file.

    Attributes
    ----------
    raw : bytes or mmap
        The file's bytes, in an ASCII-compatible encoding.
    delimiter : str
        The field separator, one or more ASCII characters.
    columns : dict of str to int
        The 0-based field position of each role, all different.
    header : bool
        Whether the first line is a header (skipped).
    id_type : {"auto", "int", "str"}
        As ``CSVConfig.id_type``.
    encoding : str
        The text encoding (ASCII-compatible).
    path : Path or None
        The file, when `raw` maps it as it is (not decompressed): the numpy reader opens it
        itself, which is faster than streaming `raw` through Python.
    """

    raw: bytes | mmap.mmap
    delimiter: str
    columns: dict[str, int]
    header: bool
    id_type: str
    encoding: str
    path: Path | None = None
