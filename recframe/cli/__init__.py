"""The ``recframe`` command line, one module per command group.

:mod:`~recframe.cli.app` builds the parser, runs :func:`main`, turns errors into exit codes and
sets up logging. The commands: :mod:`~recframe.cli.run`, :mod:`~recframe.cli.query` (recommend,
similar, predict, explain; :mod:`~recframe.cli.query_output` writes their answers),
:mod:`~recframe.cli.compare`, :mod:`~recframe.cli.data`, :mod:`~recframe.cli.plugins`,
:mod:`~recframe.cli.config` and :mod:`~recframe.cli.serve`; :mod:`~recframe.cli.args` holds the
argument types and :mod:`~recframe.cli.common` what they all use.
"""

from recframe.cli.app import build_parser, entry, main
from recframe.cli.args import MAX_BOOTSTRAP
from recframe.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CONFIG",
    "EXIT_DATA",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "MAX_BOOTSTRAP",
    "build_parser",
    "entry",
    "main",
]
