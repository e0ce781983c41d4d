"""``recframe run``: fit, evaluate and write a run (or a sweep)."""

from __future__ import annotations

import argparse

from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.errors import ConfigError


def _run(args: argparse.Namespace) -> int:
    from recframe.config import load_config
    from recframe.runner import execute

    registry = _registry()
    config = load_config(args.config, registry, args.overrides)
    if config.data is None:
        msg = f"{args.config}: data: required for recframe run; e.g. data: {{type: synthetic}}"
        raise ConfigError(msg)
    outcome = execute(config, registry, args.output, overwrite=args.overwrite, resume=args.resume,
                      model=args.model)
    if outcome.sweep is not None:
        _print(outcome.sweep.to_markdown(), end="")
        top = dict.fromkeys(p.relative_to(outcome.output_dir).parts[0] for p in outcome.files)
        _print(f"wrote {', '.join(top)} ({len(outcome.sweep.rows)} settings) to {outcome.output_dir} "
              f"in {outcome.seconds:.1f}s")
        return EXIT_OK
    if outcome.evaluation is not None:
        summary = outcome.evaluation.summary()
        width = max(len(k) for k in summary["metrics"])
        _print(f"{'metric':<{width}}  value")
        for label, value in summary["metrics"].items():
            _print(f"{label:<{width}}  {value:.4f}")
        _print(
            f"evaluated {summary['n_users']} users on {summary['n_test']} held-out interactions "
            f"(fallback {summary['n_fallback']}, skipped {summary['n_skipped']})"
        )
    top = dict.fromkeys(p.relative_to(outcome.output_dir).parts[0] for p in outcome.files)
    _print(f"wrote {', '.join(top)} to {outcome.output_dir} in {outcome.seconds:.1f}s")
    return EXIT_OK
