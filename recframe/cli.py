"""The ``recframe`` command: the only place where an error becomes an exit code.

Exit codes: 0 success, 1 any other failure, 2 a config or usage error, 3 a data error,
130 interrupted, 141 standard output closed early (a pipe into ``head``).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from recframe._version import __version__
from recframe.errors import ConfigError, DataError, RecframeError, RecframeWarning, short_repr
from recframe.interfaces import MAX_LIST_LENGTH
from recframe.pipeline import MAX_HISTORY_VALUE
from recframe.registry import plugin_output_to_stderr
from recframe.secrets import redact

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_DATA = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command killed by a closed pipe."""

EPILOG = """\
exit codes:
  0  success
  1  any other failure (a broken plugin, an internal error)
  2  the config or the command line is wrong (a bad option value, a missing file or
     folder named on the command line, an output folder that is not empty, can't be
     created or written, or holds a link where the run writes; checked before any work)
  3  the data can't be used (missing file, malformed row, empty data, an --item not in the
     training data, an unknown --user without a fallback ranker)
  130  interrupted (Ctrl-C); an interrupted sweep keeps its finished settings (--resume)
  141  standard output was closed early (e.g. piped into head); nothing else is printed

examples:
  recframe run configs/quickstart.yaml
  recframe run configs/quickstart.yaml --set similarity.k=100 --output runs/k100
  recframe -q run configs/sweep.yaml --overwrite    (replace the earlier run's files)
  recframe run configs/sweep.yaml --resume          (continue an interrupted sweep)
  recframe recommend configs/quickstart.yaml --user 42 --n 5
  recframe predict configs/quickstart.yaml --user 42 --item 7 --item 9
  recframe explain configs/quickstart.yaml --user 42 --item 7
  recframe compare runs/item-cf runs/user-cf --test wilcoxon --output runs/comparison
  recframe data describe configs/quickstart.yaml
  recframe data fetch movielens-100k
  recframe plugins --json
  recframe config schema > recframe.schema.json
"""


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``recframe`` command."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="recframe",
        description="Build, evaluate and serve neighbourhood collaborative-filtering recommenders from YAML run files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(default=False)],
    )
    parser.add_argument("--version", action="version", version=f"recframe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", parents=[common], help="fit, evaluate and write recommendations",
                         description="Fit the recommender of CONFIG, evaluate it if the config has an "
                         "evaluation section, and write recommendations.csv, metrics.json, the resolved "
                         "config.yaml and run.json into the output folder.")
    _config_args(run)
    run.add_argument("--output", "-o", type=_path_arg, help="output folder (default: output.dir, else runs/<name>)")
    run.add_argument(
        "--overwrite", action="store_true",
        help="write into an output folder that is not empty: replace (or remove) the files an earlier run "
        "wrote there, as listed in its manifest.json; nothing else in the folder is touched, and a symbolic "
        "link where the run would write or remove a file is refused",
    )
    run.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted sweep: re-use the settings it finished and evaluate the rest",
    )

    rec = sub.add_parser("recommend", parents=[common], help="print one user's recommendations",
                         description="Fit CONFIG on all its data and print the top-n items of one user, "
                         "or of a new user given by an interaction history (no refit).")
    _config_args(rec)
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the user's external id")
    who.add_argument("--history", help="a new user's items, comma-separated (e.g. 12,57,3)")
    rec.add_argument("--ratings", help="with --history: the values of those items, comma-separated (default 1)")
    rec.add_argument("--n", type=_bounded_int(1, MAX_LIST_LENGTH), default=None,
                     help=f"list length, 1 to {MAX_LIST_LENGTH:,} (default: the ranker's n)")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sim = sub.add_parser("similar", parents=[common], help="print the items most similar to one item",
                         description="Fit CONFIG on all its data and print the nearest items of one item.")
    _config_args(sim)
    sim.add_argument("--item", required=True, help="the item's external id")
    sim.add_argument("--n", type=_bounded_int(1, MAX_LIST_LENGTH), default=10,
                     help=f"number of items, 1 to {MAX_LIST_LENGTH:,} (default 10)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")

    pred = sub.add_parser("predict", parents=[common], help="predict one user's ratings of items",
                          description="Fit CONFIG on all its data and predict the user's rating of each "
                          "item from the neighbours' ratings (item_cf and user_cf rankers).")
    _config_args(pred)
    pred.add_argument("--user", required=True, help="the user's external id")
    pred.add_argument("--item", required=True, action="append", help="an item's external id (repeat for more)")
    pred.add_argument("--json", action="store_true", help="print JSON instead of a table")

    expl = sub.add_parser("explain", parents=[common], help="explain one recommendation's score",
                          description="Fit CONFIG on all its data and show which neighbours, with which "
                          "similarities and weights, add up to the item's score for the user.")
    _config_args(expl)
    expl.add_argument("--user", required=True, help="the user's external id")
    expl.add_argument("--item", required=True, help="the item's external id")
    expl.add_argument("--json", action="store_true", help="print JSON instead of a table")

    comp = sub.add_parser("compare", parents=[common], help="compare evaluated runs with significance tests",
                          description="Compare the per_user.csv of two or more run folders on the users "
                          "they share: each run's mean with a bootstrap 95%% interval, and for each pair "
                          "of runs and metric the mean difference, its interval, paired t-test and "
                          "Wilcoxon p-values (Holm-adjusted across all comparisons) and the effect size.")
    comp.add_argument("runs", nargs="+", type=_run_folder, metavar="RUN_DIR",
                      help="two or more run folders written by recframe run")
    comp.add_argument("--baseline", action="store_true", help="compare each run with the first only")
    comp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    comp.add_argument("--test", choices=("t", "wilcoxon"), default="t",
                      help="the test that decides significance (default t; both are reported)")
    comp.add_argument("--bootstrap", type=_bounded_int(1, MAX_BOOTSTRAP), default=2000,
                      help=f"bootstrap resamples, 1 to {MAX_BOOTSTRAP:,} (default 2000)")
    comp.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the bootstrap (default 0)")
    comp.add_argument("--output", "-o", type=_path_arg,
                      help="also write comparison.md, comparison.csv, comparison.json and comparison.html (with "
                      "a forest plot per metric) into this folder")
    comp.add_argument("--overwrite", action="store_true",
                      help="write into an --output folder that is not empty, replacing only the files recframe "
                      "wrote there (its manifest.json)")
    comp.add_argument("--json", action="store_true", help="print JSON instead of Markdown tables")
    comp.add_argument("--allow-different-data", action="store_true",
                      help="compare runs even if their data, split or seed differ, or they share too few "
                      "users for a paired test (refused by default)")

    data = sub.add_parser("data", parents=[common], help="inspect a run file's data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    describe = data_sub.add_parser("describe", parents=[common], help="summarise the data and what filters removed",
                                   description="Load CONFIG's data, apply its filters, and print users, items, "
                                   "interactions, density, popularity skew, activity, ratings, duplicates and "
                                   "time span, and what each filter removed.")
    _config_args(describe)
    describe.add_argument("--json", action="store_true", help="print JSON instead of text")
    fetch = data_sub.add_parser("fetch", parents=[common], help="download and verify a public dataset",
                                description="Download a registered dataset into the cache ($RECFRAME_DATA, "
                                "default ~/.cache/recframe/datasets), show its licence the first time, resume an "
                                "interrupted download and verify the archive's size and checksum.")
    fetch.add_argument("name", type=_dataset_name, help="the dataset (see: recframe data list)")
    fetch.add_argument("--url", type=_url, help="download from this mirror instead (the checksum still applies)")
    fetch.add_argument("--folder", type=_path_arg, help="cache folder instead of the default")
    data_sub.add_parser("list", parents=[common], help="list the registered public datasets")

    plugins = sub.add_parser("plugins", parents=[common], help="list plugins and their components",
                             description="List every registered component with its kind, name, package, "
                             "version and status, and every plugin that failed to load.")
    plugins.add_argument("--json", action="store_true", help="print JSON for machines")

    config = sub.add_parser(
        "config", parents=[common], help="validate run files, export the JSON Schema or the reference"
    )
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = config_sub.add_parser("validate", parents=[common], help="check a run file and print it resolved")
    _config_args(validate)
    config_sub.add_parser("schema", parents=[common], help="print a JSON Schema of run files for editors")
    config_sub.add_parser("reference", parents=[common], help="print the Markdown configuration reference")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE if exc.code else EXIT_OK
    from recframe.progress import show_progress

    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    out = sys.stdout
    _output.append(out)
    try:
        with _logging_to_stderr(quiet, verbose), show_progress(False if quiet else None), warnings.catch_warnings():
            warnings.simplefilter("always", RecframeWarning)
            warnings.showwarning = _show_warning
            with plugin_output_to_stderr():  # what plugins print can't corrupt the output (--json)
                code = _dispatch(args)
            out.flush()  # a closed pipe shows here, not at interpreter exit
            return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError):
        if not _unusable(out):
            raise
        _error(RecframeError(
            "standard output is closed, so the result can't be printed (something closed it: the calling "
            "program, or a plugin's code); run the command with standard output open, or find the plugin "
            "with RECFRAME_DISABLE_PLUGINS"
        ))
        return EXIT_FAILURE
    except ConfigError as exc:
        _error(exc)
        return EXIT_CONFIG
    except DataError as exc:
        _error(exc)
        return EXIT_DATA
    except RecframeError as exc:
        _error(exc)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _output.pop()


_output: list[TextIO] = []
"""The command's standard output, as :func:`main` found it (innermost last)."""


def _print(*values: object, sep: str = " ", end: str = "\n", file: TextIO | None = None) -> None:
    """Print to the command's own standard output (or `file`).

    While a command runs, ``sys.stdout`` points at standard error, so that what plugins print
    can't corrupt the command's output (``--json`` read by a program); the command prints here.
    """
    print(*values, sep=sep, end=end, file=file if file is not None else _output[-1] if _output else sys.stdout)


def _unusable(stream: TextIO | None) -> bool:
    """Whether `stream` is closed (or its file descriptor is): nothing can be printed to it."""
    try:
        if stream is None or stream.closed:
            return True
        os.fstat(stream.fileno())
    except io.UnsupportedOperation:  # not a real file (a test's capture): open
        return False
    except (OSError, ValueError):
        return True
    return False


def _silence_stdout() -> None:
    """Point standard output at the null device after its reader went away.

    Python flushes ``sys.stdout`` once more at exit; with the pipe closed that would print a
    ``BrokenPipeError`` traceback. This is the recipe of the Python documentation (signal module,
    "Note on SIGPIPE").
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to silence
        pass


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log to whatever ``sys.stderr`` is when a record is written.

    ``main`` may run many times in one process (tests, embedding applications), each time with
    its own standard error; a handler holding on to the first one would write to a stale stream.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignore the assignment: the stream is always the current ``sys.stderr``."""


class _RedactingFormatter(logging.Formatter):
    """Format a log line with the credentials of any URL or DSN in it masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


@contextmanager
def _logging_to_stderr(quiet: bool, verbose: bool) -> Iterator[None]:
    """Within the block, print recframe's log lines to stderr; restore the logger afterwards.

    Restoring matters to programs (and tests) that call :func:`main` and log on their own.
    """
    logger = logging.getLogger("recframe")
    saved_level, saved_propagate = logger.level, logger.propagate
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one ``warning:`` line, without the source location."""
    _print(f"warning: {redact(str(message))}", file=sys.stderr)


def _error(exc: Exception) -> None:
    text = "\n".join([str(exc), *getattr(exc, "__notes__", ())])  # notes: e.g. the failing sweep setting
    for i, line in enumerate(redact(text).splitlines() or [type(exc).__name__]):  # a driver may echo a DSN
        _print(f"error: {line}" if i == 0 else f"       {line}", file=sys.stderr)


def _registry() -> Any:
    from recframe.registry import PluginRegistry

    return PluginRegistry.from_environment()


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command in ("recommend", "similar"):
        return _query(args)
    if args.command == "plugins":
        return _plugins(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "data":
        return {"describe": _describe_data, "fetch": _fetch_data, "list": _list_data}[args.data_command](args)
    return _config(args)


def _predict(args: argparse.Namespace) -> int:
    from recframe.pipeline import Recommender

    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    items = [_external_id(item, rec.interaction_matrix.items.is_str) for item in args.item]
    rec.interaction_matrix.items.rows(items, what="item")  # unknown items: exit 3, as similar and explain
    if not rec.fallbacks:  # as recommend and explain: an unknown user needs a fallback ranker
        rec.interaction_matrix.users.rows([user], what="user")
    predictions = rec.predict([user] * len(items), items)
    sources = predictions.source_names().tolist()
    if args.json:
        values = predictions.values.tolist()
        rows = [{"item": i, "rating": v, "source": s} for i, v, s in zip(items, values, sources, strict=True)]
        _print(json.dumps({"user": user, "predictions": rows}))
        return EXIT_OK
    _print(f"user {user}:")
    _print(f"{'item':<12}  {'rating':>8}  source")
    for item, value, source in zip(items, predictions.values.tolist(), sources, strict=True):
        _print(f"{item!s:<12}  {value:>8.4f}  {source}")
    return EXIT_OK


def _fetch_data(args: argparse.Namespace) -> int:
    from recframe.datasets import dataset_info, extract, fetch

    info = dataset_info(args.name)
    archive = fetch(info, url=args.url, folder=args.folder)
    ratings = extract(info, archive)
    _print(f"{info.name}: {archive} (verified), ratings in {ratings}")
    return EXIT_OK


def _list_data(args: argparse.Namespace) -> int:
    from recframe.datasets import DATASETS, data_dir

    _print(f"{'name':<24}  {'size MB':>8}  {'verified by':<11}  cached  title")
    for info in DATASETS.values():
        cached = "yes" if (data_dir() / info.filename).exists() else "no"
        size = "?" if info.size is None else f"{info.size / 1e6:.1f}"
        algorithm = info.checksum.partition(":")[0]
        _print(f"{info.name:<24}  {size:>8}  {algorithm:<11}  {cached:<6}  {info.title}")
    _print(f"cache: {data_dir()}")
    return EXIT_OK


def _describe_data(args: argparse.Namespace) -> int:
    from recframe.data_report import describe
    from recframe.pipeline import Recommender

    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    interactions = rec.load_data()
    d: dict[str, Any] = describe(interactions)
    steps: list[dict[str, Any]] = [step.to_dict() for step in rec.filter_report]
    if args.json:
        _print(json.dumps({"data": d, "filters": steps}, indent=2))
        return EXIT_OK
    _print(f"{d['interactions']:,} interactions, {d['users']:,} users, {d['items']:,} items, "
          f"density {d['density']:.4%}, {d['duplicates']:,} repeated (user, item) events")
    pop = d["popularity"]
    _print(f"popularity: Gini {pop['gini']:.3f}; top 1% of items hold {pop['top_1pct_items_share']:.1%} "
          f"of the interactions, top 10% {pop['top_10pct_items_share']:.1%}")
    for label, key in (("items per user", "user_activity"), ("users per item", "item_popularity")):
        s = d[key]
        _print(f"{label}: min {s['min']:g}, median {s['median']:g}, mean {s['mean']:.1f}, "
              f"90th percentile {s['p90']:g}, max {s['max']:g}")
    if d["ratings"] is not None:
        r = d["ratings"]
        spread = r.get("histogram") or r.get("quantiles")
        _print(f"ratings {r['min']:g} to {r['max']:g}, mean {r['mean']:.4g}: "
              + ", ".join(f"{k}: {v}" for k, v in spread.items()))
    if d["time"] is not None:
        t = d["time"]
        from recframe.evaluation.report import iso_date

        _print(f"time: {iso_date(t['first'])} to {iso_date(t['last'])} ({t['span_days']:.6g} days)")
    for step in steps:
        removed = step["removed"]
        _print(f"filter {step['filter']}: removed {removed['events']:,} events, {removed['users']:,} users, "
              f"{removed['items']:,} items; {step['events_after']:,} events left")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from recframe.pipeline import Recommender

    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    item = _external_id(args.item, rec.interaction_matrix.items.is_str)
    explanation = rec.explain(user, item)
    if args.json:
        _print(json.dumps(explanation.to_dict()))
        return EXIT_OK
    _print(f"user {explanation.user}, item {explanation.item}: score {explanation.score:.6g} "
          f"from {explanation.source} ({explanation.reason})")
    if explanation.contributions:
        kind = (explanation.neighbour_kind or "neighbour").rstrip("s")
        _print(f"{kind:<12}  {'similarity':>10}  {'value':>8}  contribution")
        for c in explanation.contributions:
            _print(f"{c.neighbour!s:<12}  {c.similarity:>10.6g}  {c.value:>8.6g}  {c.contribution:.6g}")
    return EXIT_OK


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


def _run(args: argparse.Namespace) -> int:
    from recframe.config import load_config
    from recframe.runner import execute

    registry = _registry()
    config = load_config(args.config, registry, args.overrides)
    if config.data is None:
        msg = f"{args.config}: data: required for recframe run; e.g. data: {{type: synthetic}}"
        raise ConfigError(msg)
    outcome = execute(config, registry, args.output, overwrite=args.overwrite, resume=args.resume)
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


def _query(args: argparse.Namespace) -> int:
    from recframe.pipeline import Recommender

    if args.command == "recommend" and args.ratings is not None and args.history is None:
        msg = f"--ratings {short_repr(args.ratings)}: gives the values of --history items; use it with --history"
        raise ConfigError(msg)
    if args.command == "recommend" and args.history is not None:
        _history(args, True)  # check the numbers of --ratings before the work of fitting
    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    if args.command == "recommend" and args.history is not None:
        history = _history(args, rec.interaction_matrix.items.is_str)
        _check_history_items(history, rec.interaction_matrix.items)
        lists = rec.recommend_history(history, args.n)
        query_key, label = "new user", "item"
    elif args.command == "recommend":
        user = _external_id(args.user, rec.interaction_matrix.users.is_str)
        lists = rec.recommend([user], args.n)
        query_key, label = "user", "item"
    else:
        item = _external_id(args.item, rec.interaction_matrix.items.is_str)
        lists = rec.similar_items([item], args.n)
        query_key, label = "item", "item"
    query, ids, scores = next(iter(lists))
    source = str(lists.sources[0])
    reason = "" if lists.reasons is None else str(lists.reasons[0])
    if args.json:
        _print(json.dumps({query_key.replace(" ", "_"): query, "source": source, "reason": reason,
                          "items": [{label: i, "score": s} for i, s in zip(ids, scores, strict=True)]}))
        return EXIT_OK
    _print(f"{query_key} {query} ({source or 'nothing to recommend'}{'; ' + reason if reason else ''}):")
    _print(f"{'rank':>4}  {label:<12}  score")
    for rank, (item_id, score) in enumerate(zip(ids, scores, strict=True), start=1):
        _print(f"{rank:>4}  {item_id!s:<12}  {score:.6g}")
    return EXIT_OK


def _history(args: argparse.Namespace, str_ids: bool) -> dict[str | int, float]:
    """Return ``--history`` (and ``--ratings``) as ``{item: value}``."""
    items = [_external_id(text.strip(), str_ids) for text in args.history.split(",") if text.strip()]
    if args.ratings is None:
        return dict.fromkeys(items, 1.0)
    try:
        values = [float(text) for text in args.ratings.split(",")]
    except ValueError as exc:
        msg = f"--ratings {short_repr(args.ratings)}: values must be numbers"
        raise ConfigError(msg) from exc
    for text, value in zip(args.ratings.split(","), values, strict=True):
        if not abs(value) <= MAX_HISTORY_VALUE:  # also NaN
            msg = (
                f"--ratings {short_repr(text.strip())}: values must be finite numbers of magnitude at most "
                f"{MAX_HISTORY_VALUE:g}, on the scale of the training data's values"
            )
            raise ConfigError(msg)
    if len(values) != len(items):
        msg = f"--ratings has {len(values)} values for {len(items)} items of --history"
        raise ConfigError(msg)
    return dict(zip(items, values, strict=True))


def _check_history_items(history: dict[str | int, float], index: Any) -> None:
    """Refuse a ``--history`` naming no training item (exit 3); warn about the unknown ones of a mixed one."""
    ids = list(history)
    if not ids:
        msg = "--history names no item; give the new user's items, comma-separated (e.g. 12,57,3)"
        raise ConfigError(msg)
    rows = index.rows(ids, missing="mark")
    unknown = [item for item, row in zip(ids, rows.tolist(), strict=True) if row < 0]
    if not unknown:
        return
    shown = ", ".join(short_repr(item) for item in unknown[:5]) + (
        f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    )
    if len(unknown) == len(ids):
        msg = f"--history: no item is in the training data (unknown item {shown}); give items the run file's data has"
        raise DataError(msg)
    _print(f"warning: --history: {len(unknown)} of {len(ids)} items are not in the training data and are ignored: "
          f"{shown}", file=sys.stderr)


def _external_id(text: str, str_ids: bool) -> str | int:
    """Return a command-line id as the data's id type: an int where the ids are ints."""
    if not str_ids:
        try:
            return int(text)
        except ValueError:
            return text  # not an id of this data; the recommender says so
    return text


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
        _print(line + (f"  ({row['error']})" if row["error"] else ""))
    return EXIT_OK


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
        from recframe.reference import configuration_reference

        _print(configuration_reference(registry), end="")
    return EXIT_OK
