"""``recframe config validate``, ``schema`` and ``reference``."""

from __future__ import annotations

import argparse
import json

from recframe.cli.common import EXIT_OK, _print, _registry


def _config(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.config_command == "validate":
        from recframe.config import load_config

        run = load_config(args.config, registry, args.overrides)
        _print(f"# {args.config}: valid")
        _print(run.to_yaml(), end="")
    elif args.config_command == "schema":
        from recframe.config import config_schema

        _print(json.dumps(config_schema(registry), indent=2))
    else:
        from recframe.config.reference import configuration_reference

        _print(configuration_reference(registry), end="")
    return EXIT_OK
