"""``recframe update`` and ``recframe forget``: change a saved model without refitting it.

``update`` adds the interactions of a data source (a data file, or a YAML file describing any
registered source) to a saved model with :meth:`Recommender.update <recframe.Recommender.update>`;
``forget`` removes users and items with :meth:`Recommender.forget <recframe.Recommender.forget>`.
The model is loaded, changed in memory, and only then saved (atomically, by
:meth:`Recommender.save <recframe.Recommender.save>`): into ``--output``, or over the model
folder it came from. A failure at any step leaves every folder on disk as it was. A change
saved over the folder it came from holds :func:`~recframe.artifacts.model_lock.model_lock` from
the load to the save, so that two commands (or a service's save) changing one folder run one
after the other instead of one silently undoing the other.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from recframe.artifacts.commit_signals import saved_before, saves_placed
from recframe.cli.args import _id_arg, _path_arg
from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.cli.query_output import model_folder_arg, read_numbered_ids
from recframe.cli.stopping import Terminated, note_done
from recframe.config import ComponentSpec, load_component, validate_component
from recframe.data import Interactions, whole_number
from recframe.errors import ConfigError, DataError, path_repr, short_repr
from recframe.interfaces import DataSource
from recframe.interfaces.calls import calling, checked_interactions, is_builtin
from recframe.interfaces.checks import check_interactions
from recframe.recommender.update_inputs import UnknownIdsError

FILE_SOURCES: dict[str, dict[str, Any]] = {
    ".csv": {"type": "csv"},
    ".tsv": {"type": "csv", "delimiter": "\t"},
    ".parquet": {"type": "parquet"},
    ".pq": {"type": "parquet"},
}
"""The built-in source (with its settings) that reads a ``--data`` file, by the file's suffix."""
COMPRESSED = (".gz", ".zip")
"""Suffixes of compressed files the ``csv`` source reads (``ratings.csv.gz``)."""
YAML_SUFFIXES = (".yaml", ".yml")
"""Suffixes of a ``--data`` file that describes a data source instead of holding the data."""

UPDATE_DESCRIPTION = (
    "Add the interactions of SOURCE to the model saved in RUN_OR_MODEL_DIR (a run folder's model/, or a "
    "folder written by Recommender.save), without refitting: the updated model equals a fit on the old "
    "training events followed by the new ones. SOURCE is a data file (.csv or .tsv, optionally .gz or .zip, "
    "read by the csv source with a header naming the columns user, item and, as the training data has them, "
    "rating and timestamp; or .parquet, with the same column names) or a YAML file describing any data "
    "source as a run file's data section does (e.g. {type: csv, path: new.csv, delimiter: ';'}; relative "
    "paths in it are taken from the current directory, as in run files). The model is saved over "
    "RUN_OR_MODEL_DIR (atomically) unless --output names another folder; if anything fails, nothing on disk "
    "changes. The model must have been saved with its training data (the default)."
)
FORGET_DESCRIPTION = (
    "Remove every interaction of the given users and items from the model saved in RUN_OR_MODEL_DIR, without "
    "refitting: the result equals a fit on the training events without theirs, and the ids are gone from the "
    "saved model (its lineage keeps only their number). Ids are converted to the model's id type "
    "(an integer model needs whole numbers). An id not in the training data is an error (exit 3) and nothing "
    "is forgotten. The model is saved over RUN_OR_MODEL_DIR (atomically) unless --output names another folder; "
    "if anything fails, nothing on disk changes. The model must have been saved with its training data."
)


def add_update_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the ``update`` and ``forget`` commands to the subcommands `sub`."""
    update = sub.add_parser(
        "update",
        parents=[common],
        help="add interactions to a saved model, without refitting",
        description=UPDATE_DESCRIPTION,
    )
    _model_args(update)
    update.add_argument(
        "--data",
        required=True,
        type=_path_arg,
        metavar="SOURCE",
        help="the new interactions: a .csv, .tsv or .parquet file (columns user, item[, rating][, timestamp]), "
        "or a .yaml file describing a data source ({type: ..., and its parameters})",
    )
    forget = sub.add_parser(
        "forget",
        parents=[common],
        help="remove users' and items' interactions from a saved model",
        description=FORGET_DESCRIPTION,
    )
    _model_args(forget)
    forget.add_argument(
        "--user", type=_id_arg, action="append", default=[], metavar="ID", help="a user to forget (repeatable)"
    )
    forget.add_argument(
        "--item", type=_id_arg, action="append", default=[], metavar="ID", help="an item to forget (repeatable)"
    )
    forget.add_argument(
        "--users-file",
        type=_path_arg,
        metavar="FILE",
        help="users to forget: a UTF-8 text file, one id per line (-: standard input)",
    )
    forget.add_argument(
        "--items-file",
        type=_path_arg,
        metavar="FILE",
        help="items to forget: a UTF-8 text file, one id per line (-: standard input)",
    )


def _model_args(parser: argparse.ArgumentParser) -> None:
    """Add what ``update`` and ``forget`` share: the model folder, ``--output`` and ``--json``."""
    parser.add_argument(
        "model",
        type=_path_arg,
        metavar="RUN_OR_MODEL_DIR",
        help="a run folder (its model/ is changed) or a model folder written by Recommender.save",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=_path_arg,
        metavar="NEW_MODEL_DIR",
        help="save the changed model into this folder (new, empty, or a saved model to replace) and leave "
        "RUN_OR_MODEL_DIR as it is (default: replace the model in RUN_OR_MODEL_DIR)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the model's new lineage entry as JSON (events, users and items added and removed, "
        "each neighbour graph's mode, seconds) instead of a summary",
    )


def _update(args: argparse.Namespace) -> int:
    registry = _registry()
    folder = model_folder_arg(args.model)
    target = _target(args.output, folder)
    with _changing(folder, target):
        rec = _load(folder, registry)
        id_type = _id_type(rec)
        spec = source_spec(args.data, registry, id_type or "str")
        try:
            new = load_source(spec, registry, rec.seed)
        except DataError as exc:  # a data file's own errors name it; a YAML file's source is named too
            if args.data.name.lower().endswith(YAML_SUFFIXES):
                msg = f"--data {path_repr(args.data)}: {exc}"
                raise DataError(msg) from exc
            if _names_a_setting(str(exc), spec):
                msg = (
                    f"{exc} (--data FILE reads it with the source's defaults: to change a setting, describe the "
                    f"source in a .yaml file, {{type: {spec.type}, path: ..., ...}}, and give that to --data)"
                )
                raise DataError(msg) from exc
            raise
        try:
            if spec.type == "csv" and id_type is None:  # text and integer ids: read as text, typed here
                new = _ids_of_model_kinds(new, rec)
            rec.update(new)
        except DataError as exc:  # the events' fault: name where they came from
            msg = f"--data {path_repr(args.data)}: {exc}"
            raise DataError(msg) from exc
        _save(rec, target)
    _report(rec.lineage[-1], target, args)
    return EXIT_OK


def _forget(args: argparse.Namespace) -> int:
    if not (args.user or args.item or args.users_file or args.items_file):
        msg = "recframe forget: give the ids to forget: --user, --item, --users-file or --items-file"
        raise ConfigError(msg)
    users, user_places = _given_ids(args.user, args.users_file, "--users-file")
    items, item_places = _given_ids(args.item, args.items_file, "--items-file")
    registry = _registry()
    folder = model_folder_arg(args.model)
    target = _target(args.output, folder)
    with _changing(folder, target):
        rec = _load(folder, registry)
        matrix = rec.interaction_matrix
        user_ids = model_ids(users, matrix.users.is_str, "user", user_places) if users else None
        item_ids = model_ids(items, matrix.items.is_str, "item", item_places) if items else None
        try:
            rec.forget(users=user_ids, items=item_ids)
        except UnknownIdsError as exc:
            given = {"users": (user_ids, user_places), "items": (item_ids, item_places)}[exc.name]
            place = _first_place(exc.missing, *given)
            if place is None:
                raise
            msg = f"{exc} (the first from a file: {place})"
            raise DataError(msg) from exc
        _save(rec, target)
    _report(rec.lineage[-1], target, args)
    return EXIT_OK


def _save(rec: Any, target: Path) -> None:
    """Save the changed model into `target`; an interrupt that comes once it is in place does not undo it.

    The change is then done, and saying otherwise (exit 130 or 143, which mean undone) would have
    a script apply it again: the command finishes, and warns that it was stopped too late.
    """
    placed = saves_placed()
    try:
        rec.save(target)
    except KeyboardInterrupt as exc:
        if saved_before(exc) is None and saves_placed() == placed:
            raise
        logging.getLogger(__name__).warning(
            "%s came after the changed model was saved to %s: the change is applied", _stop_name(exc), target
        )
    note_done(f"the changed model was saved to {target}")  # a stop from here on is answered by main


def _stop_name(exc: KeyboardInterrupt) -> str:
    """Name what stopped the command: the signal (SIGTERM, SIGHUP), or Ctrl-C."""
    return exc.args[0] if isinstance(exc, Terminated) and exc.args else "Ctrl-C"


def _given_ids(values: list[str], path: Path | None, flag: str) -> tuple[list[str], list[str | None]]:
    """Return the ids given on the command line and in the file at `path` (`flag`'s), and where each is.

    Where: ``None`` for an id given by its flag, ``FLAG 'PATH', line N`` for one from the file.
    """
    ids = list(values)
    places: list[str | None] = [None] * len(values)
    if path is not None:
        label = f"{flag} {path_repr(path)}"
        numbered = read_numbered_ids(path, None, label=label)
        ids += [text for _, text in numbered]
        places += [f"{label}, line {number}" for number, _ in numbered]
    return ids, places


def _first_place(missing: np.ndarray, ids: list[str] | list[int] | None, places: list[str | None]) -> str | None:
    """Return where in a file the first of `ids` among `missing` was given, or ``None`` (none from a file).

    For the message of a forget refused for ids not in the training data, which lists the ids
    but not where they came from: an ids file may hold thousands.
    """
    if not ids:
        return None
    unknown = np.isin(np.asarray(ids), missing)
    return next((places[position] for position in np.flatnonzero(unknown) if places[position] is not None), None)


def model_ids(texts: list[str], str_ids: bool, what: str, places: list[str | None]) -> list[str] | list[int]:
    """Return ids given as text as the model's id type: whole numbers for a model with integer ids.

    `places` says where each id was given (``None``: on the command line), for the message.

    Raises
    ------
    DataError
        If the model's ids are integers and a text is not a whole number (nothing is forgotten).
    """
    if str_ids:
        return texts
    numbers = [whole_number(text) for text in texts]
    bad = [position for position, number in enumerate(numbers) if number is None]
    if bad:
        place = places[bad[0]]
        msg = (
            f"{f'{place}: ' if place else ''}{what} {short_repr(texts[bad[0]])} is not a whole number, but this "
            f"model's {what} ids are integers{f' ({len(bad)} such ids)' if len(bad) > 1 else ''}; nothing was forgotten"
        )
        raise DataError(msg)
    return [number for number in numbers if number is not None]


def _target(output: Path | None, folder: Path) -> Path:
    """Return where the changed model is saved, refused before any work if it can't be written there.

    Raises
    ------
    ConfigError
        If `output` is a file, inside the model folder, below a file, or a folder that is
        neither empty nor a saved model; or, without `output`, if the model folder is a
        symbolic link (a save replaces the folder named, never what a link points to); or if
        no folder can be made where the save stages the model (beside the folder it writes), or
        a model folder it would replace is read-only (its files could not be removed).
    """
    from recframe.artifacts import check_not_a_link, check_replaceable, is_model_folder
    from recframe.runner.folder import check_creatable

    if output is None:
        if folder.is_symlink():
            msg = (
                f"{path_repr(folder)}: is a symbolic link, which an update in place would replace by a "
                f"folder; give --output, or the folder it points to ({path_repr(folder.resolve())})"
            )
            raise ConfigError(msg)
        # the changed model is staged beside the folder, then swapped in
        check_creatable(folder, "give --output to save the changed model elsewhere")
        check_replaceable(folder)
        return folder
    check_not_a_link(output, f"--output {path_repr(output)}")
    if output.exists() and not output.is_dir():
        msg = f"--output {path_repr(output)}: is not a folder; give a new or empty folder, or a saved model"
        raise ConfigError(msg)
    if folder.resolve() in output.resolve().parents:  # it would add files to the model it reads
        msg = f"--output {path_repr(output)}: is inside the model folder {path_repr(folder)}; give a folder outside it"
        raise ConfigError(msg)
    above = next((parent for parent in output.parents if parent.exists()), None)
    if above is not None and not above.is_dir():
        msg = f"--output {path_repr(output)}: {path_repr(above)} is a file, so no folder can be made there"
        raise ConfigError(msg)
    if output.is_dir() and any(output.iterdir()) and not is_model_folder(output):
        msg = (
            f"--output {path_repr(output)}: is a folder of other files, not a saved model; "
            "give a new or empty folder"
        )
        raise ConfigError(msg)
    check_creatable(output)
    check_replaceable(output)
    return output


def _changing(folder: Path, target: Path) -> contextlib.AbstractContextManager[None]:
    """Return what to hold while the model of `folder` is loaded, changed and saved into `target`.

    A save over the folder itself holds :func:`~recframe.artifacts.model_lock.model_lock`, so that a
    concurrent change of the folder (another command, a service's save) waits instead of being lost;
    a save elsewhere changes nothing that another change could lose, and holds nothing.
    """
    from recframe.artifacts import model_lock

    if target.resolve() == folder.resolve():
        return model_lock(folder)
    return contextlib.nullcontext()


def _load(folder: Path, registry: Any) -> Any:
    """Load the model of `folder` into memory (not mapped: the folder may be replaced while it is used)."""
    from recframe.recommender import Recommender

    return Recommender.load(folder, mmap=False, registry=registry)


def _id_type(rec: Any) -> str | None:
    """Return the ``csv`` source's ``id_type`` matching the model's ids, or ``None`` if the axes differ."""
    matrix = rec.interaction_matrix
    users, items = matrix.users.is_str, matrix.items.is_str
    if users != items:
        return None
    return "str" if users else "int"


def _ids_of_model_kinds(new: Interactions, rec: Any) -> Interactions:
    """Return `new` with each id column of the kind the model keeps for that axis.

    A model whose user ids are text and item ids integers (or the other way) can't give the
    ``csv`` source one ``id_type``, so the source reads both columns as text, exactly as the
    file spells them (``-0`` and ``007`` stay text beside the model's ``0`` and ``7``), and the
    integer axis's ids are converted here as ``id_type: int`` converts them (``005`` is item 5).
    A YAML section choosing ``id_type: int`` or ``auto`` itself gets integers in text columns
    as their decimal text.

    Raises
    ------
    DataError
        If an id of the integer axis is not a whole number in the 64-bit range (naming it and its row).
    """
    matrix = rec.interaction_matrix
    users = _as_kind(new.users, matrix.users.is_str, "user")
    items = _as_kind(new.items, matrix.items.is_str, "item")
    if users is new.users and items is new.items:
        return new
    return Interactions(users, items, new.values, new.timestamps)


def _as_kind(ids: np.ndarray, str_ids: bool, what: str) -> np.ndarray:
    """Return one id column as text (`str_ids`) or int64, parsing each distinct text once."""
    if str_ids:
        return ids.astype(str) if ids.dtype.kind in "iu" else ids
    if ids.dtype.kind != "U":
        return ids
    texts, inverse = np.unique(ids, return_inverse=True)
    numbers = [whole_number(text) for text in texts.tolist()]
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    bad = next((k for k, number in enumerate(numbers) if number is None or not low <= number <= high), None)
    if bad is not None:
        row = int(np.flatnonzero(inverse == bad)[0])
        what_it_is = "not a whole number" if numbers[bad] is None else "a whole number beyond the 64-bit range"
        msg = (
            f"{what} id {short_repr(texts[bad].item())} (row {row + 1} of the data) is {what_it_is}, but this "
            f"model's {what} ids are integers"
        )
        raise DataError(msg)
    return np.array(numbers, dtype=np.int64)[inverse]


def _names_a_setting(message: str, spec: ComponentSpec) -> bool:
    """Return whether `message` names a setting of the data source `spec` (``data.delimiter``, say).

    A bare data file given to ``--data`` can't set any: the message's hint then needs a word on how.
    """
    return any(f"data.{name}" in message for name in type(spec.params).model_fields if name != "path")


def _section_hint(path: Path) -> str | None:
    """Return what to do where the ``--data`` YAML file holds a run file's sections rather than a source's.

    ``None`` where it holds neither a ``data:`` section nor ``filters:`` (or can't be read: the
    error already says why).
    """
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(raw, dict):
        return None
    if "type" not in raw and isinstance(raw.get("data"), dict):
        return (
            "this looks like a run file: --data takes one data source section alone, "
            "{type: ..., path: ...}, as the contents of a run file's data: section"
        )
    if "filters" in raw:
        return (
            "filters are not applied to updates: a run's filters shaped its training data once, and an "
            "update adds its events as they are; see docs/updating.md"
        )
    return None


def source_spec(path: Path, registry: Any, id_type: str | None = None) -> ComponentSpec:
    """Return the validated data source that ``--data PATH`` names.

    Parameters
    ----------
    path : Path
        A ``.csv``/``.tsv`` file (optionally ``.gz`` or ``.zip``) or a ``.parquet`` file, read by
        the matching built-in source with its default columns, or a ``.yaml``/``.yml`` file
        holding a data source section (``type:`` and that source's parameters).
    registry : PluginRegistry
        Where ``type:`` is looked up.
    id_type : {"int", "str"}, optional
        The ``id_type`` given to the ``csv`` source reading a data file (the model's), so that
        text ids spelled as numbers stay text; also to a YAML file's ``csv`` source that sets none.

    Raises
    ------
    ConfigError
        If the file is missing (or a folder), has another suffix, or the YAML is not valid or does not describe
        a registered data source; each problem names the file, its line and the field.
    """
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "is not a regular file"
        msg = f"--data {path_repr(path)}: {what if path.exists() else 'no such file'}"
        raise ConfigError(msg)
    name = path.name.lower()
    if name.endswith(YAML_SUFFIXES):
        try:
            spec = load_component(path, "data", registry)
        except ConfigError as exc:
            hint = _section_hint(path)
            if hint is None:
                raise
            msg = f"{exc} ({hint})"
            raise ConfigError(msg) from exc
        if spec.type == "csv" and id_type is not None and "id_type" not in spec.params.model_fields_set:
            # read as a bare data file is: ids of the model's kind, unless the section says otherwise
            return ComponentSpec(spec.kind, spec.type, spec.params.model_copy(update={"id_type": id_type}))
        return spec
    bare = name.removesuffix(".gz").removesuffix(".zip")
    suffix = Path(bare).suffix
    if suffix not in FILE_SOURCES or (suffix not in (".csv", ".tsv") and bare != name):
        msg = (
            f"--data {path_repr(path)}: not a file recframe reads by its name; give a .csv, .tsv (optionally "
            ".gz or .zip) or .parquet file, or a .yaml file describing the data source ({type: ..., path: ...})"
        )
        if bare != name and not suffix:  # events.zip: which reader is not in the name
            packed = ".gz" if name.endswith(".gz") else ".zip"  # the outer one: events.zip.gz is read as .gz
            stem = path.name[: len(bare)]
            msg = (
                f"--data {path_repr(path)}: the name of a compressed file must say what it holds ({stem}.csv{packed} "
                f"or {stem}.tsv{packed}); or describe the file in a .yaml file ({{type: csv, path: {path}}})"
            )
        raise ConfigError(msg)
    section: dict[str, Any] = {**FILE_SOURCES[suffix], "path": str(path)}
    if section["type"] == "csv" and id_type is not None:
        section["id_type"] = id_type
    return validate_component(section, "data", registry, source=f"--data {path}")


def load_source(spec: ComponentSpec, registry: Any, seed: int) -> Interactions:
    """Return the interactions of the data source `spec`, read as a fit reads its data source.

    Parameters
    ----------
    spec : ComponentSpec
        The validated data source.
    registry : PluginRegistry
        Where its type is looked up.
    seed : int
        The model's seed: a random source gets the generator a fit would give it.

    Raises
    ------
    DataError
        If the data can't be read or holds no interaction.
    PluginError
        If a third-party source fails or returns something else than interactions.
    """
    source = spec.build(registry)
    if not isinstance(source, DataSource):  # the registry's "data" kind holds data sources only
        msg = f"{registry.describe(source)} is not a data source"
        raise ConfigError(msg)
    who = registry.describe(source)
    with checked_interactions(who, builtin=is_builtin(type(source))), calling(who, "load"):
        loaded = source.load(np.random.default_rng([0, seed]))
    return check_interactions(loaded, who)


def _report(entry: dict[str, Any], target: Path, args: argparse.Namespace) -> None:
    """Print the lineage entry of the change: as JSON with ``--json``, else a summary unless ``--quiet``."""
    if args.json:
        _print(json.dumps(entry))
        return
    if getattr(args, "quiet", False):
        return
    _print("\n".join(summary_lines(entry, target)))


def _counted(count: int, noun: str) -> str:
    """Return ``"1 user"``, ``"2 users"``: `count` and `noun`, plural but for one."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summary_lines(entry: dict[str, Any], target: Path) -> list[str]:
    """Return the lines that summarise an ``update`` or ``forget`` lineage `entry` saved in `target`."""
    seconds = entry.get("seconds", 0.0)
    if entry.get("kind") == "forget":
        head = (
            f"forgot {_counted(entry.get('users', 0), 'user')} and {_counted(entry.get('items', 0), 'item')}: "
            f"{_counted(entry.get('events', 0), 'event')} removed"
        )
    else:
        head = f"added {_counted(entry.get('events', 0), 'event')}"
    changes = (
        f"users +{entry.get('users_added', 0)} -{entry.get('users_removed', 0)}, "
        f"items +{entry.get('items_added', 0)} -{entry.get('items_removed', 0)}"
    )
    lines = [f"{head} ({changes}) in {seconds:.3f}s"]
    for axis, record in sorted(dict(entry.get("neighbours") or {}).items()):
        mode = record.get("mode", "?")
        detail = f"{record.get('rows_searched', 0)} rows searched, {record.get('rows_merged', 0)} merged"
        reason = f"; {record['reason']}" if record.get("reason") else ""
        lines.append(f"  {axis[:-1]} neighbours: {mode} ({detail}{reason})")
    lines.append(f"saved to {target}")
    return lines
