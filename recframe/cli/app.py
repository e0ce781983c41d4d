"""The ``recframe`` command: the only place where an error becomes an exit code.

Exit codes: 0 success, 1 any other failure, 2 a config or usage error, 3 a data error,
130 interrupted, 143 (129) stopped by SIGTERM (SIGHUP), 141 standard output closed early (a pipe
into ``head``).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from recframe._version import __version__
from recframe.cli.args import (
    MAX_BOOTSTRAP,
    _bounded_int,
    _call_control_args,
    _common,
    _config_args,
    _dataset_name,
    _id_arg,
    _id_list,
    _model_arg,
    _non_negative_int,
    _path_arg,
    _query_args,
    _run_folder,
    _url,
    _users_file_args,
)
from recframe.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    OutputError,
    _output,
    _print,
)
from recframe.cli.compare import _compare
from recframe.cli.config import _config
from recframe.cli.data import _describe_data, _fetch_data, _list_data
from recframe.cli.plugins import _plugins
from recframe.cli.query import _explain, _predict, _query
from recframe.cli.run import _run
from recframe.cli.serve import _serve, add_serve_parser
from recframe.cli.stopping import Terminated, done_before_stop, ignore_stopping, new_command, stop_as_interrupt
from recframe.cli.update import _forget, _update, add_update_parsers
from recframe.errors import ConfigError, DataError, RecframeError, RecframeWarning
from recframe.interfaces import MAX_LIST_LENGTH
from recframe.registry import plugin_output_to_stderr
from recframe.secrets import redact

EPILOG = """\
exit codes:
  0  success
  1  any other failure (a broken plugin, an internal error)
  2  the config or the command line is wrong (a bad option value, a missing file or
     folder named on the command line, an output folder that is not empty, can't be
     created or written, or holds a link where the run writes; checked before any work),
     or a setting the data can't meet (n_folds above the interactions; once they are read)
  3  the data can't be used (missing file, malformed row, empty data, an --item not in the
     training data, an unknown --user without a fallback ranker)
  130  interrupted (Ctrl-C); an interrupted sweep keeps its finished settings (--resume)
  143  stopped by SIGTERM (129: SIGHUP), undone as a Ctrl-C is
  141  standard output was closed early (e.g. piped into head); nothing else is printed

examples:
  recframe run configs/quickstart.yaml
  recframe run configs/quickstart.yaml --set similarity.k=100 --output runs/k100
  recframe -q run configs/sweep.yaml --overwrite    (replace the earlier run's files)
  recframe run configs/sweep.yaml --resume          (continue an interrupted sweep)
  recframe recommend configs/quickstart.yaml --user 42 --n 5
  recframe recommend --model runs/quickstart --users-file users.txt --format csv --output lists.csv
  recframe predict configs/quickstart.yaml --user 42 --item 7 --item 9
  recframe update runs/quickstart --data new_ratings.csv
  recframe forget runs/quickstart --user 42 --output runs/quickstart-forgot
  recframe explain configs/quickstart.yaml --user 42 --item 7
  recframe compare runs/item-cf runs/user-cf --test wilcoxon --output runs/comparison
  recframe data describe configs/quickstart.yaml
  recframe data fetch movielens-100k
  recframe plugins --json
  recframe config schema > recframe.schema.json
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``recframe`` command."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="recframe",
        description="Build and evaluate neighbourhood collaborative-filtering recommenders from YAML run files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(default=False)],
    )
    parser.add_argument("--version", action="version", version=f"recframe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", parents=[common], help="fit, evaluate and write recommendations",
                         description="Fit the recommender of CONFIG, evaluate it if the config has an "
                         "evaluation section, and write recommendations.csv, metrics.json and per_user.csv "
                         "(when evaluated), report.html, the resolved config.yaml, run.json, the fitted model "
                         "(model/) and manifest.json (the list of them) into the output folder.")
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
    run.add_argument("--no-model", dest="model", action="store_false",
                     help="don't save the fitted model into the run folder's model/ (saved by default)")

    rec = sub.add_parser("recommend", parents=[common], help="print one user's recommendations",
                         description="Fit CONFIG on all its data and print the top-n items of one user, "
                         "or of a new user given by an interaction history (no refit).")
    _query_args(rec)
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=_id_arg, help="the user's external id")
    who.add_argument(
        "--history",
        type=_id_list,
        metavar="IDS",
        help="a new user's items: ids separated by commas (e.g. 12,57,3), or @FILE with one id per line (ids that "
        "hold commas)",
    )
    _users_file_args(rec, who)
    _call_control_args(rec, recommend=True)
    rec.add_argument("--ratings", help="with --history: the values of those items, comma-separated (default 1)")
    rec.add_argument("--n", type=_bounded_int(1, MAX_LIST_LENGTH), default=None,
                     help=f"list length, 1 to {MAX_LIST_LENGTH:,} (default: the ranker's n)")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sim = sub.add_parser("similar", parents=[common], help="print the items most similar to one item",
                         description="Fit CONFIG on all its data and print the nearest items of one item.")
    _query_args(sim)
    _call_control_args(sim, recommend=False)
    sim.add_argument("--item", type=_id_arg, required=True, help="the item's external id")
    sim.add_argument("--n", type=_bounded_int(1, MAX_LIST_LENGTH), default=10,
                     help=f"number of items, 1 to {MAX_LIST_LENGTH:,} (default 10)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")

    pred = sub.add_parser("predict", parents=[common], help="predict one user's ratings of items",
                          description="Fit CONFIG on all its data and predict the user's rating of each "
                          "item from the neighbours' ratings (item_cf and user_cf rankers).")
    _query_args(pred)
    pred.add_argument("--user", type=_id_arg, required=True, help="the user's external id")
    pred.add_argument("--item", type=_id_arg, required=True, action="append",
                      help="an item's external id (repeat for more)")
    pred.add_argument("--json", action="store_true", help="print JSON instead of a table")

    expl = sub.add_parser("explain", parents=[common], help="explain one recommendation's score",
                          description="Fit CONFIG on all its data and show which neighbours, with which "
                          "similarities and weights, add up to the item's score for the user.")
    _query_args(expl)
    expl.add_argument("--user", type=_id_arg, required=True, help="the user's external id")
    expl.add_argument("--item", type=_id_arg, required=True, help="the item's external id")
    expl.add_argument("--json", action="store_true", help="print JSON instead of a table")

    comp = sub.add_parser("compare", parents=[common], help="compare evaluated runs with significance tests",
                          description="Compare the per_user.csv of two or more run folders on the users "
                          "they share: each run's mean with a bootstrap 95% interval, and for each pair "
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

    data = sub.add_parser("data", parents=[common], help="inspect a run file's or a saved model's data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    describe = data_sub.add_parser("describe", parents=[common], help="summarise the data and what filters removed",
                                   description="Load CONFIG's data, apply its filters, and print users, items, "
                                   "interactions, density, popularity skew, activity, ratings, duplicates and "
                                   "time span, and what each filter removed. With --model instead, the same of "
                                   "the events a saved model is fitted on, after its updates and forgets.")
    _config_args(describe, optional=True, config_help="the YAML run file (or --model)")
    _model_arg(describe, "describe the training events of a saved model instead (a run folder's model/ or a "
               "folder written by Recommender.save): the fit's, with every update's added and every forget's removed")
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
    add_serve_parser(sub, common)
    add_update_parsers(sub, common)
    return parser


def _refuse_unknown_options_before_a_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Name an unknown option given without a command (argparse would say only that COMMAND is missing)."""
    if not argv or any(not arg.startswith("-") for arg in argv):
        return
    known = {option for action in parser._actions for option in action.option_strings}
    unknown = [arg for arg in argv if arg.split("=", 1)[0] not in known]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (options of a command follow the command)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    new_command()
    try:
        parser = build_parser()
        _refuse_unknown_options_before_a_command(parser, sys.argv[1:] if argv is None else list(argv))
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE if exc.code else EXIT_OK
    except KeyboardInterrupt as exc:  # before any work (a scheduler's SIGTERM as the command starts)
        return _stopped(exc)
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
            try:
                out.flush()  # a closed pipe (or a full disk) shows here, not at interpreter exit
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise OutputError.of(exc) from exc
            return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputError as exc:
        _silence_stdout()  # else Python's own flush at exit fails again, with a traceback
        _error(exc)
        return EXIT_FAILURE
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
    except KeyboardInterrupt as exc:
        return _stopped(exc)
    finally:
        _output.pop()


def _stopped(exc: KeyboardInterrupt) -> int:
    """Say what stopped the command (Ctrl-C, or the signal of a :class:`Terminated`) and return its exit status.

    Where the command's change was already made for good (:func:`~recframe.cli.stopping.note_done`:
    an update saved, its report not yet printed), the status is 0 with a warning: 130 or 143 say
    the change was not made, and a script retrying on them would apply it twice.
    """
    name = signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "Ctrl-C"
    done = done_before_stop()
    if done is not None:
        print(f"warning: {name} came after {done}: the change is applied", file=sys.stderr)
        return EXIT_OK
    if isinstance(exc, Terminated):
        print(f"terminated ({name})", file=sys.stderr)
        return 128 + exc.signum
    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def entry() -> int:
    """Run the ``recframe`` command (:func:`main`) with SIGTERM and SIGHUP as :class:`Terminated`; then exit quietly.

    Once :func:`main` has returned, Ctrl-C, SIGTERM and SIGHUP are ignored
    (:func:`~recframe.cli.stopping.ignore_stopping`): the command's files are written and its
    answer printed, and a signal during the interpreter's shutdown must not turn its exit status
    into an interruption's. :func:`main` itself leaves the process's signal handling alone: a
    program or a test may call it many times.
    """
    stop_as_interrupt()
    code = main()
    ignore_stopping()
    return code


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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command in ("recommend", "similar"):
        return _query(args)
    if args.command == "plugins":
        return _plugins(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "update":
        return _update(args)
    if args.command == "forget":
        return _forget(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "data":
        return {"describe": _describe_data, "fetch": _fetch_data, "list": _list_data}[args.data_command](args)
    return _config(args)
