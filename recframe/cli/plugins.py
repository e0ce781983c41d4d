"""``recframe plugins``: list plugins and their components."""

from __future__ import annotations

import argparse
import json

from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.registry.entries import PluginInfo


def _row(kind: str, name: str, info: PluginInfo, status: str, error: str) -> dict[str, str]:
    """One line of the listing."""
    return {"kind": kind, "name": name, "package": info.package, "version": info.version, "status": status,
            "error": error}


def _plugins(args: argparse.Namespace) -> int:
    registry = _registry()
    rows = [_row(e.kind, e.name, e.plugin, "ok", "") for e in registry.components()]
    rows += [_row("", p.name, p, p.status, p.error) for p in registry.plugins if p.status != "ok"]
    with_components = {e.plugin.name for e in registry.components()}
    rows += [  # loaded, but its hook returned an empty list: shown, so that it doesn't seem missing
        _row("", p.name, p, p.status, "registers no components")
        for p in registry.plugins
        if p.status == "ok" and p.name not in with_components and p.package != "recframe"
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
