"""Argument types and shared options of the ``recframe`` command line's parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from recframe.errors import short_repr


def _common(default: object = argparse.SUPPRESS) -> argparse.ArgumentParser:
    """Return the options every command takes, before or after its name (``-q``, ``-v``).

    The top-level parser sets the defaults; the subcommands' copies default to ``SUPPRESS``,
    so an option given before the subcommand is not reset by the subcommand's default.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=default,
        help="no progress bars or log lines, only results and errors",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=default, help="log debugging detail")
    return common


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"must be a whole number; got {short_repr(text)}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 0:
        msg = f"must be 0 or more; got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


MAX_BOOTSTRAP = 100_000
"""The most bootstrap resamples ``recframe compare --bootstrap`` takes (2,000 is plenty for 95% intervals)."""


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number from `low` to `high` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also a number too long to convert
            msg = f"must be a whole number from {low:,} to {high:,}; got {short_repr(text)}"
            raise argparse.ArgumentTypeError(msg) from None
        if not low <= value <= high:
            msg = f"must be from {low:,} to {high:,}; got {short_repr(text)}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = "whole number"  # argparse's fallback message names the type
    return parse


def _path_arg(text: str) -> Path:
    """Check a path named on the command line like a path in a run file: not empty, ``~`` expanded."""
    from recframe.config import user_path

    try:
        return user_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_folder(text: str) -> Path:
    """Check a run folder named on the command line: it exists and holds per-user metrics."""
    path = Path(text)
    if not path.exists():
        msg = f"{short_repr(text)}: no such run folder"
        raise argparse.ArgumentTypeError(msg)
    if not path.is_dir():
        msg = f"{short_repr(text)}: is not a folder; give run folders written by recframe run"
        raise argparse.ArgumentTypeError(msg)
    if not (path / "per_user.csv").is_file():
        hint = "; of a sweep, give its settings/NN folders" if (path / "sweep.csv").is_file() else ""
        msg = (
            f"{short_repr(text)}: has no per_user.csv; give run folders written by recframe run with an "
            f"evaluation{hint}"
        )
        raise argparse.ArgumentTypeError(msg)
    return path


def _url(text: str) -> str:
    from urllib.parse import urlsplit

    try:
        web = urlsplit(text).scheme in ("http", "https") and bool(urlsplit(text).hostname)
    except ValueError as exc:  # "Invalid IPv6 URL", a port that is not a number
        msg = f"{short_repr(text)} is not a valid URL ({exc}); give an https:// (or http://) one"
        raise argparse.ArgumentTypeError(msg) from exc
    if not web:
        msg = f"{short_repr(text)} is not a web address; give an https:// (or http://) one"
        raise argparse.ArgumentTypeError(msg)
    return text


def _dataset_name(text: str) -> str:
    import difflib

    from recframe.datasets import DATASETS

    if text not in DATASETS:
        close = difflib.get_close_matches(text, DATASETS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        msg = f"unknown dataset {short_repr(text)}; {hint}(registered: {', '.join(sorted(DATASETS))})"
        raise argparse.ArgumentTypeError(msg)
    return text


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=_path_arg, help="the YAML run file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set similarity.k=100 (repeatable; values are YAML)",
    )
