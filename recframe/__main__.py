"""Run the ``recframe`` command as ``python -m recframe``."""

from recframe.cli import main

raise SystemExit(main())
