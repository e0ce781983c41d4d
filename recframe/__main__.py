"""Run the ``recframe`` command as ``python -m recframe``."""

from recframe.cli import entry

raise SystemExit(entry())
