"""Keep plugin code from writing into a command's standard output.

A command's output may be JSON read by a program, so what a plugin prints while it is imported,
registered or run goes to standard error instead, and closing standard output is ignored.
"""

from __future__ import annotations

import io
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager


class _StdoutToStderr(io.TextIOBase):
    """Standard output while plugin code runs: written to the current standard error, never closed."""

    def write(self, text: str) -> int:
        stream = sys.stderr
        if stream is not None and not stream.closed:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        stream = sys.stderr
        if stream is not None and not stream.closed:
            stream.flush()

    def close(self) -> None:
        """Do nothing: a plugin may not close the command's output."""

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return sys.stderr.fileno()


@contextmanager
def plugin_output_to_stderr() -> Iterator[None]:
    """Within the block, send what is printed to standard output to standard error instead.

    Plugin code (an import, a registration hook, a component's ``fit``) must not write into a
    command's output, which may be JSON read by a program: what it prints goes to standard
    error, and ``sys.stdout.close()`` is ignored. ``sys.stdout`` is restored afterwards,
    whatever the plugin set it to.
    """
    saved = sys.stdout
    sys.stdout = typing.cast("typing.TextIO", _StdoutToStderr())
    try:
        yield
    finally:
        sys.stdout = saved
