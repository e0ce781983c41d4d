"""What every command of the ``recframe`` command line uses.

The exit codes, the command's own standard output, and the plugin registry.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_DATA = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command killed by a closed pipe."""


_output: list[TextIO] = []
"""The command's standard output, as :func:`main` found it (innermost last)."""


def _print(*values: object, sep: str = " ", end: str = "\n", file: TextIO | None = None) -> None:
    """Print to the command's own standard output (or `file`).

    While a command runs, ``sys.stdout`` points at standard error, so that what plugins print
    can't corrupt the command's output (``--json`` read by a program); the command prints here.
    """
    print(*values, sep=sep, end=end, file=file if file is not None else _output[-1] if _output else sys.stdout)


def _registry() -> Any:
    from recframe.registry import PluginRegistry

    return PluginRegistry.from_environment()
