"""``recframe compare``: compare evaluated runs with significance tests."""

from __future__ import annotations

import argparse
import json
import logging

from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.errors import ConfigError


def _compare(args: argparse.Namespace) -> int:
    from recframe.evaluation.compare import compare_run_dirs
    from recframe.evaluation.report import comparison_report
    from recframe.runner import check_output_dir, write_atomically

    if len(args.runs) < 2:
        msg = f"compare needs at least two run folders (RUN_DIR); got {len(args.runs)}"
        raise ConfigError(msg)
    if not 0 < args.alpha < 1:
        msg = f"--alpha must be between 0 and 1; got {args.alpha}"
        raise ConfigError(msg)
    names = ("comparison.md", "comparison.csv", "comparison.json", "comparison.html")
    if args.output is not None:  # refuse before any work, and before printing anything
        check_output_dir(args.output, overwrite=args.overwrite, writes=[*names, "manifest.json"], keep_others=True)
    comparison = compare_run_dirs(
        args.runs, alpha=args.alpha, test=args.test, n_bootstrap=args.bootstrap, seed=args.seed,
        baseline=args.baseline, allow_different_data=args.allow_different_data, registry=_registry(),
    )
    as_json = json.dumps(comparison.to_dict(), indent=2) + "\n"
    _print(as_json if args.json else comparison.to_markdown(), end="")
    if args.output is not None:
        texts = (comparison.to_markdown(), comparison.to_csv(), as_json, comparison_report(comparison).render())
        files = dict(zip(names, texts, strict=True))
        written = write_atomically(args.output, files, overwrite=args.overwrite, keep_others=True)
        logging.getLogger(__name__).info("wrote %s to %s", ", ".join(p.name for p in written), args.output)
    return EXIT_OK
