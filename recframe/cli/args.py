"""Argument types and shared options of the ``recframe`` command line's parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from recframe.errors import path_repr, short_repr


def _common(default: object = argparse.SUPPRESS) -> argparse.ArgumentParser:
    """Return the options every command takes, before or after its name (``-q``, ``-v``).

    The top-level parser sets the defaults; the subcommands' copies default to ``SUPPRESS``,
    so an option given before the subcommand is not reset by the subcommand's default.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="no progress bars or informational log lines: only results, warnings and errors",
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
        msg = f"{path_repr(text)}: no such run folder"
        raise argparse.ArgumentTypeError(msg)
    if not path.is_dir():
        msg = f"{path_repr(text)}: is not a folder; give run folders written by recframe run"
        raise argparse.ArgumentTypeError(msg)
    if not (path / "per_user.csv").is_file():
        hint = ""
        if (path / "sweep.csv").is_file():  # the settings' folders as written: padded to one width (01 ... 12)
            names = sorted(p.name for p in (path / "settings").glob("*") if (p / "per_user.csv").is_file())
            shown = ", ".join(f"settings/{name}" for name in names[:2]) + (", ..." if len(names) > 2 else "")
            hint = f"; of a sweep, give its settings' folders ({shown or 'settings/<N>'})"
        msg = (
            f"{path_repr(text)}: has no per_user.csv; give run folders written by recframe run with an "
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


def _config_args(
    parser: argparse.ArgumentParser, *, optional: bool = False, config_help: str = "the YAML run file"
) -> None:
    """Add the run file (``CONFIG``, or left out where a command takes ``--model`` instead) and ``--set``."""
    if optional:
        parser.add_argument("config", nargs="?", type=_path_arg, default=None, help=config_help)
    else:
        parser.add_argument("config", type=_path_arg, help=config_help)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set similarity.k=100 (repeatable; values are YAML)",
    )


def _model_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    """Add ``--model RUN_OR_MODEL_DIR``: a saved model read instead of the run file (see ``reads_saved_model``)."""
    parser.add_argument("--model", type=_path_arg, metavar="RUN_OR_MODEL_DIR", help=help_text)


def _query_args(parser: argparse.ArgumentParser) -> None:
    """Add the source of a query command's answers: a run file to fit (``CONFIG``) or a saved model (``--model``)."""
    _config_args(
        parser, optional=True, config_help="the YAML run file, fitted on all its data (or give --model instead)"
    )
    _model_arg(
        parser,
        "answer from a saved model without refitting: a run folder (its model/) or a folder written by "
        "Recommender.save",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv", "jsonl"),
        default=None,
        help="output: a table (default), JSON, CSV (one row per ranked entry) or JSON lines (one object per query)",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=_path_arg,
        metavar="FILE",
        help="write the answer to FILE (atomically) instead of standard output; not a folder, nor a file "
        "inside the --model folder being read",
    )


def _users_file_args(parser: argparse.ArgumentParser, group: argparse._MutuallyExclusiveGroup) -> None:
    """Add ``--users-file`` (to the group of ``--user``) and ``--column`` to ``recframe recommend``."""
    group.add_argument(
        "--users-file",
        type=_path_arg,
        metavar="FILE",
        help="many users at once: one id per line, or a CSV file's column (with --column); - reads standard input",
    )
    parser.add_argument(
        "--column", help="with --users-file: the CSV column holding the user ids (the file has a header)"
    )


def _id_arg(text: str) -> str:
    r"""Check an id named on the command line: text, not bytes that are not UTF-8.

    Python hands such bytes over as lone surrogates (``$'\xff'`` becomes ``'\udcff'``), which no
    model holds and no output file can hold either: refused here, before any work.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape")
        msg = f"must be UTF-8 text; got the bytes {short_repr(shown)}"
        raise argparse.ArgumentTypeError(msg) from None
    return text


_id_arg.__name__ = "ID"  # argparse's fallback message names the type


class IdsFromFile(list[str]):
    """The ids of an ``@FILE`` argument and the file they came from (``source``), which ``--output`` may not replace."""

    def __init__(self, ids: list[str], source: Path) -> None:
        super().__init__(ids)
        self.source = source


def _id_list(text: str) -> list[str]:
    """Parse an ``IDS`` value: ids separated by commas (``12,57,3``), or ``@FILE`` with one id per line.

    The ids stay text here; the query converts them to the model's id type, as it does ``--user``.
    """
    if text.startswith("@"):
        from recframe.cli.query_output import read_ids
        from recframe.config import user_path
        from recframe.errors import ConfigError

        try:
            source = user_path(text[1:])
            return IdsFromFile(read_ids(source, None, label=path_repr(text)), source)
        except (ConfigError, ValueError) as exc:  # ValueError: an empty or malformed path
            raise argparse.ArgumentTypeError(str(exc)) from None
    ids = [_id_arg(part.strip()) for part in text.split(",") if part.strip()]
    if not ids:
        msg = (
            f"names no id; give ids separated by commas (e.g. 12,57,3) or @FILE (one id per line); "
            f"got {short_repr(text)}"
        )
        raise argparse.ArgumentTypeError(msg)
    return ids


_id_list.__name__ = "IDS"  # argparse's fallback message names the type


def _call_control_args(parser: argparse.ArgumentParser, *, recommend: bool) -> None:
    """Add call-time control to ``recframe recommend`` (`recommend`) or ``recframe similar``.

    ``--exclude`` and ``--candidates`` for both (and ``recommend --history``); ``--include-seen``,
    ``--exclude-seen`` and ``--fill-short`` for ``recommend --user``/``--users-file``. They are the
    ``exclude``, ``candidates``, ``exclude_seen`` and ``fill_short`` arguments of the Python API.
    """
    what = "items" if recommend else "neighbour items"
    parser.add_argument(
        "--exclude",
        type=_id_list,
        metavar="IDS",
        help=f"{what} never returned: ids separated by commas (e.g. 12,57,3), or @FILE with one id per line; "
        "unknown ids are ignored and counted in the list's reason",
    )
    parser.add_argument(
        "--candidates",
        type=_id_list,
        metavar="IDS",
        help=f"the only {what} that may be returned (after --exclude); same syntax as --exclude",
    )
    if not recommend:
        return
    seen = parser.add_mutually_exclusive_group()
    seen.add_argument(
        "--include-seen",
        dest="exclude_seen",
        action="store_false",
        default=None,
        help="also recommend items the user interacted with in training (re-consumption)",
    )
    seen.add_argument(
        "--exclude-seen",
        dest="exclude_seen",
        action="store_true",
        default=None,
        help="never recommend items the user interacted with in training (default: the ranker's exclude_seen)",
    )
    parser.add_argument(
        "--fill-short",
        action="store_true",
        help="complete lists shorter than --n from the fallback rankers (not only empty ones); the reason says how",
    )
