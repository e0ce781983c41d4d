"""``recframe plugins``: list plugins and their components."""

from __future__ import annotations

import argparse
import json

from recframe.cli.common import EXIT_OK, _print, _registry


def _plugins(args: argparse.Namespace) -> int:
    registry = _registry()
    rows = [
        {"kind": e.kind, "name": e.name, "package": e.plugin.package, "version": e.plugin.version,
         "status": "ok", "error": ""}
        for e in registry.components()
    ]
    rows += [
        {"kind": "", "name": p.name, "package": p.package, "version": p.version, "status": p.status,
         "error": p.error}
        for p in registry.plugins if p.status != "ok"
    ]
    if args.json:
        _print(json.dumps(rows, indent=2))
        return EXIT_OK
    columns = ("kind", "name", "package", "version", "status")
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    _print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        line = "  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip()
        error = " ".join(str(row["error"]).split())  # one line a row: some errors span several (pluggy's)
        _print(line + (f"  ({error})" if error else ""))
    return EXIT_OK
