"""What every command of the ``recframe`` command line uses.

The exit codes, the command's own standard output, and the plugin registry.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from recframe.errors import RecframeError

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_DATA = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command killed by a closed pipe."""


_output: list[TextIO] = []
"""The command's standard output, as :func:`main` found it (innermost last)."""


_PIECE = 1 << 16
"""Characters written at once. A single write of a large text (a chunk of recommendations, 750 KB)
into a pipe whose reader goes away midway raised nothing on Python 3.11 (the kernel reports the
part written before the reader left, and the rest vanished): the command exited 0 with its output
cut. Written in pieces, the next piece fails with ``BrokenPipeError``: exit 141."""


def _print(*values: object, sep: str = " ", end: str = "\n", file: TextIO | None = None) -> None:
    """Print to the command's own standard output (or `file`).

    While a command runs, ``sys.stdout`` points at standard error, so that what plugins print
    can't corrupt the command's output (``--json`` read by a program); the command prints here.
    """
    stream = file if file is not None else _output[-1] if _output else sys.stdout
    text = sep.join(map(str, values)) + end
    try:
        for start in range(0, len(text), _PIECE):
            stream.write(text[start : start + _PIECE])
    except BrokenPipeError:  # the reader went away: main's own exit code
        raise
    except OSError as exc:  # a full disk, a device error: one line, not a traceback
        raise OutputError.of(exc) from exc


class OutputError(RecframeError):
    """The command's standard output can't be written (not a closed pipe): exit 1, with one ``error:`` line."""

    @classmethod
    def of(cls, exc: OSError) -> OutputError:
        """Return the error for the failed write `exc`."""
        return cls(f"standard output can't be written: {exc.strerror or exc}")


def _registry() -> Any:
    from recframe.registry import PluginRegistry

    return PluginRegistry.from_environment()
