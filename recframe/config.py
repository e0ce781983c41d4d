"""Run files: YAML in, validated component specifications out.

A run file names one plugin per section with ``type:`` and passes that plugin's parameters
beside it. Each section is checked in two steps: ``type`` is looked up in the registry, then the
other keys are validated against that plugin's ``Config``. All errors of a file are collected
and reported together, each as ``file:line: dotted.path: message``.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import itertools
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, PositiveInt, ValidationError
from pydantic_core import ErrorDetails

from recframe.checks import calling
from recframe.errors import SHOWN_CHARACTERS, ConfigError, short_repr, short_text
from recframe.interfaces import (
    INT64_MAX,
    Component,
    ComponentConfig,
    SettingsModel,
    expand_home,
    path_text_problem,
)
from recframe.registry import PluginRegistry
from recframe.secrets import is_secret_path, redact, secret_kind

PathKey = tuple[str | int, ...]

COMPONENT_SECTIONS: dict[str, str] = {
    "data": "data",
    "matrix": "matrix",
    "similarity": "similarity",
    "ranker": "ranker",
}
"""Top-level section -> the component kind it holds."""

DEFAULT_TYPES: dict[str, str | None] = {
    "data": None,
    "matrix": "ratings",
    "similarity": "sklearn_nn",
    "ranker": "item_cf",
}
"""The plugin a section gets when the run file leaves it out (``None``: no default)."""

DEFAULT_FALLBACK = "popularity"
DEFAULT_SPLIT = "per_user_holdout"
DEFAULT_METRICS = ("precision@10", "recall@10", "ndcg@10")
SECTION_DEFAULTS: dict[PathKey, str | None] = {
    ("data",): None,
    ("matrix",): DEFAULT_TYPES["matrix"],
    ("similarity",): DEFAULT_TYPES["similarity"],
    ("ranker",): DEFAULT_TYPES["ranker"],
    ("ranker", "fallback"): DEFAULT_FALLBACK,
    ("evaluation", "split"): DEFAULT_SPLIT,
}
"""The component sections of a run file (apart from metric entries) and their default plugins."""
RUN_FILE_KEYS: dict[str, tuple[str, str]] = {
    "name": ("name of the run; names the output folder `runs/<name>`", "the file's stem"),
    "seed": ("seeds every random step (data generation, splitting)", "`0`"),
    "data": ("where interactions come from: a data source; `filters:` lists filters applied in order to what it "
             "loads", "required for `recframe run`"),
    "matrix": ("how the user-item matrix is built: a matrix builder", f"`{DEFAULT_TYPES['matrix']}`"),
    "similarity": ("how neighbours are found: a similarity backend", f"`{DEFAULT_TYPES['similarity']}`"),
    "ranker": ("how items are scored and ranked; `fallback:` names the ranker for users it can't serve, a list of "
               "rankers tried in order, or `null` for none",
               f"`{DEFAULT_TYPES['ranker']}`, fallback `{DEFAULT_FALLBACK}`"),
    "evaluation": ("how the run is evaluated: `split:` a splitter, `metrics:` a list such as `[precision@10, ndcg@10]`,"
                   " `test_data:` a data source for split `predefined`, and the settings below", "no evaluation"),
    "output": ("what `recframe run` writes, see below", "everything"),
    "sweep": ("a grid of dotted keys and the values each takes (`similarity.k: [10, 50]`); every combination is "
              "validated, fitted and evaluated, and the run compares them (needs `evaluation`)", "no sweep"),
}
"""Every top-level key of a run file: what it means and its default (the schema and the reference use it)."""
TOP_LEVEL_KEYS = tuple(RUN_FILE_KEYS)
EVALUATION_PARTS: dict[str, str] = {
    "split": f"the splitter that holds out test interactions; `{DEFAULT_SPLIT}` by default",
    "metrics": "the metrics, each `name`, `name@k` or `{type: name, k: k, ...}`; "
               f"`[{', '.join(DEFAULT_METRICS)}]` by default",
    "test_data": "a data source of test interactions, for split `predefined` (the `data` source is then training)",
}
"""The component parts of the ``evaluation`` section; its settings are :class:`EvaluationSettings`."""
UNSWEPT_REASONS: dict[str, str] = {
    "name": "the settings of a sweep are parts of one run, which has one name",
    "sweep": "a sweep can't vary its own grid",
    "evaluation.metrics": "every setting is scored on the same metrics, so that they can be compared",
    "output": "the settings are written together into one run folder",
}
"""What a sweep can't vary, and why: each key or section is named in the error with its own reason."""
UNSWEPT_KEYS = ("name", "sweep")
UNSWEPT_PREFIXES = ("evaluation.metrics", "output")
"""What a sweep can't vary: the run's name and grid, its metrics and its output (:data:`UNSWEPT_REASONS`)."""


@dataclass(frozen=True)
class ComponentSpec:
    """A validated component section: which plugin, with which parameters."""

    kind: str
    type: str
    params: ComponentConfig

    def build(self, registry: PluginRegistry) -> Component:
        """Return a new instance of the component.

        Its ``__init__`` runs under :func:`~recframe.checks.calling`, so a plugin whose constructor
        fails (or exits) is named in a :class:`PluginError` like any other call into it.
        """
        cls = registry.get(self.kind, self.type)
        with calling(lambda: registry.describe(cls), "__init__"):
            return cls(self.params)

    def to_dict(self) -> dict[str, Any]:
        """Return the section as it would be written in a run file, defaults included."""
        return {"type": self.type, **self.params.model_dump(mode="json")}


class OutputConfig(SettingsModel):
    """The ``output`` section: where and what ``recframe run`` writes."""

    dir: Path | None = None
    """Folder of the run's files; ``runs/<name>`` by default. ``--output`` overrides it. A
    leading ``~`` is the home folder; an empty path is refused (write ``.`` for the current folder)."""
    recommendations: bool = True
    """Write ``recommendations.csv`` with every training user's top-n list."""
    n: PositiveInt | None = None
    """Length of the written lists; the ranker's ``n`` by default."""
    report: bool = True
    """Write ``report.html`` (and its PNG charts under ``charts/``) for an evaluated run or a
    sweep; charts need ``pip install 'recframe[plot]'``."""


class EvaluationSettings(SettingsModel):
    """The ``evaluation`` section's own settings, beside ``split``, ``metrics`` and ``test_data``."""

    relevance_threshold: float | None = None
    """Held-out interactions rated below this are not relevant (e.g. ``4`` on a 1-5 scale);
    every held-out interaction is relevant without it. Needs ratings."""
    unseen_items: Literal["keep", "drop"] = "keep"
    """Held-out items that training never saw can't be recommended: ``keep`` counts them as
    relevant items nobody found (the strict choice), ``drop`` leaves them out of the test set."""
    per_user: bool = True
    """Write each evaluated user's metric values to ``per_user.csv`` (what ``recframe compare``
    reads)."""
    compare: list[Path] = Field(default_factory=list)
    """Earlier run folders to compare this run with, user by user (as ``recframe compare``);
    the tables go to ``comparison.md`` and ``comparison.json`` in the run folder."""
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    """Significance level of the comparisons (Holm-adjusted p-values)."""
    significance_test: Literal["t", "wilcoxon"] = "t"
    """The paired test that decides significance: ``t`` (paired t-test) or ``wilcoxon``
    (signed-rank); both are reported."""
    allow_different_data: bool = False
    """Compare with the ``compare`` folders even when they were evaluated on other data, another
    split or seed, or too few of the same users for a paired test (refused by default)."""


@dataclass(frozen=True)
class EvaluationSpec:
    """The validated ``evaluation`` section."""

    split: ComponentSpec
    metrics: tuple[ComponentSpec, ...]
    settings: EvaluationSettings = field(default_factory=EvaluationSettings)
    test_data: ComponentSpec | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the section as it would be written in a run file."""
        out: dict[str, Any] = {
            "split": self.split.to_dict(),
            "metrics": [m.to_dict() for m in self.metrics],
        }
        if self.test_data is not None:
            out["test_data"] = self.test_data.to_dict()
        out.update(self.settings.model_dump(mode="json"))
        return out


@dataclass(frozen=True)
class SweepSpec:
    """The validated ``sweep`` section: a grid of dotted keys and values, every setting validated.

    Attributes
    ----------
    grid : tuple of (str, tuple)
        Each swept key and its values, in the order of the file.
    settings : tuple of (tuple, RunConfig)
        Every combination of values (the first key varies slowest) and the run it gives.
    """

    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    settings: tuple[tuple[tuple[Any, ...], RunConfig], ...]

    def to_dict(self) -> dict[str, list[Any]]:
        """Return the section as it would be written in a run file."""
        return {key: list(values) for key, values in self.grid}


@dataclass(frozen=True)
class RunConfig:
    """A whole validated run file.

    Attributes
    ----------
    ranker_fallback : ComponentSpec or None
        The first ranker used for users the main ranker can't serve (``ranker.fallback``).
    ranker_fallbacks : tuple of ComponentSpec
        The whole chain of fallback rankers, tried in order (``ranker.fallback`` as a list).
    data_filters : tuple of ComponentSpec
        The filters applied, in order, to what the data source loads (``data.filters``).
    source : str
        Where the config came from, for messages.
    """

    name: str
    seed: int
    data: ComponentSpec | None
    matrix: ComponentSpec
    similarity: ComponentSpec
    ranker: ComponentSpec
    ranker_fallback: ComponentSpec | None
    evaluation: EvaluationSpec | None
    output: OutputConfig = field(default_factory=OutputConfig)
    source: str = "<config>"
    sweep: SweepSpec | None = None
    ranker_fallbacks: tuple[ComponentSpec, ...] = ()
    data_filters: tuple[ComponentSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the fully resolved config, every default written out."""
        ranker = self.ranker.to_dict()
        chain = self.ranker_fallbacks or ((self.ranker_fallback,) if self.ranker_fallback is not None else ())
        written = [spec.to_dict() for spec in chain]
        ranker["fallback"] = None if not written else written[0] if len(written) == 1 else written
        out: dict[str, Any] = {"name": self.name, "seed": self.seed}
        if self.data is not None:
            out["data"] = self.data.to_dict()
            if self.data_filters:
                out["data"]["filters"] = [spec.to_dict() for spec in self.data_filters]
        out.update(matrix=self.matrix.to_dict(), similarity=self.similarity.to_dict(), ranker=ranker)
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation.to_dict()
        out["output"] = self.output.model_dump(mode="json")
        if self.sweep is not None:
            out["sweep"] = self.sweep.to_dict()
        return out

    def to_yaml(self) -> str:
        """Return :meth:`to_dict` as YAML text, ready to be run again."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def load_config(
    path: str | Path, registry: PluginRegistry, overrides: Sequence[str] = ()
) -> RunConfig:
    """Read, override and validate a run file.

    Parameters
    ----------
    path : str or Path
        The YAML run file.
    registry : PluginRegistry
        Where ``type:`` names are looked up.
    overrides : sequence of str
        ``dotted.key=value`` strings (``--set``), applied before validation; values are parsed
        as YAML scalars.

    Raises
    ------
    ConfigError
        If the file is missing, not a regular file, larger than :data:`MAX_CONFIG_BYTES` or not
        valid YAML, or anything in it is wrong; every problem is listed, each with file, line
        and dotted path.
    """
    path = Path(path)
    text = read_config_text(path)
    raw, lines, duplicates = parse_yaml(text, str(path))
    raw = {} if raw is None else raw
    raw, overridden = apply_overrides(raw, overrides, source=str(path))
    problems = [
        (key, f"duplicate key; it is already set on line {first}") for key, first in duplicates
    ]
    return validate_run(
        raw, registry, source=str(path), lines=lines, overridden=overridden, problems=problems
    )


def user_path(text: str) -> Path:
    """Return a path the user typed (``--output``), checked and with ``~`` expanded like a path field.

    Raises
    ------
    ValueError
        If it is empty, holds a NUL character or is longer than
        :data:`~recframe.interfaces.MAX_PATH_LENGTH`, or its ``~`` names no known home folder.
    """
    problem = path_text_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return Path(expand_home(Path(text)))


MAX_CONFIG_BYTES = 10 * 1024 * 1024
"""Largest run file read (10 MB); a run file is a few kilobytes of YAML."""


def _file_kind(mode: int) -> str:
    """Name what a non-regular file is, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_config_text(path: Path) -> str:
    """Return the text of the run file `path`: a regular file of UTF-8 text, at most :data:`MAX_CONFIG_BYTES`.

    The file is opened without blocking and checked before anything is read, so a named pipe or
    a device such as ``/dev/zero`` is refused instead of hanging or filling memory.

    Raises
    ------
    ConfigError
        Naming the file and what is wrong with it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        msg = f"{path}: no such config file"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"{path}: can't read the config file: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        msg = f"{path}: can't read the config file: it is {_file_kind(mode)}; give a YAML run file (a regular file)"
        raise ConfigError(msg)
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            msg = f"{path}: can't read the config file: {exc.strerror or exc}"
            raise ConfigError(msg) from exc
    if len(data) > MAX_CONFIG_BYTES:
        msg = (
            f"{path}: can't read the config file: it is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MB; "
            "a run file is a few kilobytes of YAML, so this is likely not one"
        )
        raise ConfigError(msg)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"{path}:{line}: can't read the config file: byte {data[exc.start]:#04x} is not UTF-8; save it as UTF-8"
        raise ConfigError(msg) from None


def yaml_problem(exc: yaml.YAMLError, text: str = "") -> tuple[int | None, str]:
    """Return the 1-based line of a YAML error and a one-line description of it."""
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return text.count("\n", 0, exc.position) + 1, f"{exc.reason}: {character!r}"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return None, short_text(" ".join(str(exc).split()), 2 * SHOWN_CHARACTERS)
    description = f"{short_text(problem, 2 * SHOWN_CHARACTERS)} (column {mark.column + 1}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        description += f", {short_text(context, SHOWN_CHARACTERS)}"
        if context_mark is not None and context_mark.line != mark.line:
            description += f" started on line {context_mark.line + 1}"
    return mark.line + 1, description + ")"


MAX_NESTING = 50
"""Deepest nesting of lists and mappings a run file (or a ``--set`` value) may have."""
MAX_VALUES = 100_000
"""Most values (scalars, lists and mappings, every alias expanded) a run file may hold."""


def check_yaml_bounds(text: str, source: str, *, with_line: bool = True) -> None:
    """Refuse a YAML document that nests too deeply or expands into too many values.

    One pass over the parser's events (no recursion, nothing built) counts how many values the
    document holds once every alias is expanded, so that a "billion laughs" alias bomb or
    thousands of nested brackets are refused before anything walks or validates them.

    Raises
    ------
    ConfigError
        Naming `source` and (`with_line`) the line where the limit was passed.
    yaml.YAMLError
        If the text is not valid YAML.
    """
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    stack: list[tuple[str | None, int]] = [(None, 0)]  # open collections: anchor, values so far
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        where = f"{source}:{event.start_mark.line + 1}" if with_line and event.start_mark else source
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            if any(open_anchor == name for open_anchor, _ in stack):
                msg = f"{where}: alias *{short_text(name)} refers to a list or mapping that contains it"
                raise ConfigError(msg)
            added = sizes.get(name, 1)  # an undefined alias is reported by the composer
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > MAX_NESTING:
                msg = (
                    f"{where}: lists and mappings nest more than {MAX_NESTING} levels deep here; "
                    "a run file needs only a few"
                )
                raise ConfigError(msg)
            stack.append((event.anchor, 1))
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            closed, added = stack.pop()
            if closed is not None:
                sizes[closed] = added
        elif isinstance(event, yaml.ScalarEvent):
            added = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        parent, count = stack[-1]
        stack[-1] = (parent, count + added)
        if count + added > MAX_VALUES:
            what = f"alias *{short_text(event.anchor or '')} expands" if isinstance(event, yaml.AliasEvent) else "grows"
            msg = (
                f"{where}: {what} the document past {MAX_VALUES} values (aliases counted as "
                "expanded); a run file needs far fewer, so this looks like a YAML alias bomb"
            )
            raise ConfigError(msg)


def parse_yaml(text: str, source: str) -> tuple[object, dict[PathKey, int], list[tuple[PathKey, int]]]:
    """Return the parsed document, :func:`line_index` and the repeated keys of a YAML text.

    The text is checked by :func:`check_yaml_bounds` first, then composed once: the values and
    the line index come from the same nodes.

    Raises
    ------
    ConfigError
        If the text is not valid YAML, or nests too deeply or expands into too many values.
    """
    try:
        check_yaml_bounds(text, source)
        loader = _RunFileLoader(text)
        try:
            root = loader.get_single_node()
            # index before constructing: construction merges `<<` keys into the nodes in place
            lines, duplicates, scalar_problems = _index_nodes(root)
            if scalar_problems:
                shown = [f"{source}:{line}: {dotted(path) + ': ' if path else ''}{problem}"
                         for path, line, problem in scalar_problems]
                raise ConfigError("\n".join(shown))
            raw = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except _UnreadableScalar as exc:  # where the walk does not look, such as inside a list used as a key
        where = "" if exc.problem_mark is None else f":{exc.problem_mark.line + 1}"
        msg = f"{source}{where}: {exc.problem}"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc, text)
        msg = f"{source}{'' if line is None else f':{line}'}: not valid YAML: {problem}"
        raise ConfigError(msg) from exc
    return raw, lines, duplicates


MAX_INT_CHARACTERS = 100
"""Longest integer a run file may write; integers beyond int64 are refused anyway, and Python
refuses to read integers of more than 4300 digits."""
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _scalar_problem(node: yaml.Node) -> str | None:
    """Return why a YAML scalar can't be read as its type (an integer too long), or ``None``."""
    if node.tag == _INT_TAG and isinstance(node.value, str) and len(node.value) > MAX_INT_CHARACTERS:
        return f"integer {short_text(node.value, 40)} is too long; integers must be within +-{INT64_MAX}"
    return None


class _UnreadableScalar(yaml.constructor.ConstructorError):
    """A scalar that is valid YAML but can't be read as its type (:func:`_scalar_problem`)."""


class _RunFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing integers too long to be read (see :data:`MAX_INT_CHARACTERS`)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        problem = _scalar_problem(node)
        if problem is not None:
            raise _UnreadableScalar(None, None, problem, node.start_mark)
        return super().construct_yaml_int(node)


_RunFileLoader.add_constructor(_INT_TAG, _RunFileLoader.construct_yaml_int)


def load_yaml_value(text: str, label: str) -> object:
    """Return the YAML value `text` (a ``--set`` value or a sweep entry), bounded like a run file.

    Raises
    ------
    ConfigError
        Starting with `label`, if it nests too deeply, expands into too many values, is not valid
        YAML or holds an integer too long to read.
    """
    if not text.strip():
        return None
    try:
        check_yaml_bounds(text, label, with_line=False)
        return yaml.load(text, Loader=_RunFileLoader)  # a safe loader
    except _UnreadableScalar as exc:
        msg = f"{label}: {exc.problem}"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"{label}: the value is not valid YAML: {yaml_problem(exc, text)[1]}"
        raise ConfigError(msg) from exc


def line_index(text: str) -> dict[PathKey, int]:
    """Map each dotted path of a YAML document to the 1-based line where it is written."""
    check_yaml_bounds(text, "<config>")
    return _index_nodes(yaml.compose(text, Loader=yaml.SafeLoader))[0]


def _merged_keys(node: yaml.Node, depth: int = 0) -> list[str]:
    """Return the keys a ``<<`` merge value brings in: a mapping's keys, or those of a list of mappings."""
    sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
    keys: list[str] = []
    for source in sources:
        if isinstance(source, yaml.MappingNode) and depth < MAX_NESTING:
            for key_node, value_node in source.value:
                if key_node.tag == _MERGE_TAG:
                    keys.extend(_merged_keys(value_node, depth + 1))
                elif isinstance(key_node, yaml.ScalarNode):
                    keys.append(key_node.value)
    return keys


def _index_nodes(
    root: yaml.Node | None,
) -> tuple[dict[PathKey, int], list[tuple[PathKey, int]], list[tuple[PathKey, int, str]]]:
    """Return :func:`line_index`, the repeated mapping keys and the scalars that can't be read.

    Each repeated key comes with the line it first appeared on; keys brought in by a ``<<``
    merge are not repeats (the mapping's own key overrides them, as YAML says), and they are
    located at the ``<<`` line. Each unreadable scalar (:func:`_scalar_problem`) comes with its
    line and problem.

    Each node is visited once: a node reached again through an alias keeps the path where it
    was first written, so the walk stays linear in the size of the text.
    """
    index: dict[PathKey, int] = {}
    duplicates: list[tuple[PathKey, int]] = []
    scalar_problems: list[tuple[PathKey, int, str]] = []
    visited: set[int] = set()

    def check(node: yaml.Node, path: PathKey) -> None:
        problem = _scalar_problem(node) if isinstance(node, yaml.ScalarNode) else None
        if problem is not None:
            scalar_problems.append((path, node.start_mark.line + 1, problem))

    def walk(node: yaml.Node, path: PathKey) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            return
        visited.add(id(node))
        check(node, path)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            merges: list[tuple[int, yaml.Node]] = []
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    merges.append((line, value_node))
                    walk(value_node, (*path, "<<"))
                    continue
                check(key_node, path)
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<a list or mapping>"
                if key in seen:
                    duplicates.append(((*path, key), seen[key]))
                seen.setdefault(key, line)
                index[(*path, key)] = line
                walk(value_node, (*path, key))
                index[(*path, key)] = line
            for line, value_node in merges:
                for key in _merged_keys(value_node):
                    index.setdefault((*path, key), line)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index, duplicates, scalar_problems


def apply_overrides(
    raw: object, overrides: Sequence[str], *, source: str = "--set"
) -> tuple[object, list[PathKey]]:
    """Return a copy of `raw` with each ``dotted.key=value`` override applied, and their paths.

    A component section given as a bare plugin name (``similarity: sklearn_nn``, or a metric
    ``ndcg@10``) is expanded so that its parameters can be set, and a section the file leaves
    out starts from its default (``--set ranker.n=5`` tunes the default ``item_cf``).
    List entries are addressed by position (``evaluation.metrics.0``).

    Raises
    ------
    ConfigError
        If an override is not of the form ``key=value``, its value is not valid YAML, or it
        walks through something that is not a mapping or past the end of a list.
    """
    if not overrides:
        return raw, []
    if not isinstance(raw, dict):
        return raw, []
    raw = copy.deepcopy(raw)
    paths: list[PathKey] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        label = f"--set {yaml_repr(item)}"
        if not sep or not key.strip() or any(not p.strip() for p in key.split(".")):
            msg = f"{label}: expected KEY=VALUE with a dotted key, e.g. similarity.k=100"
            raise ConfigError(msg)
        value = load_yaml_value(text, label)
        paths.append(set_dotted(raw, key, value, label))
    return raw, paths


def set_dotted(raw: dict[str, Any], key: str, value: object, label: str) -> PathKey:
    """Set the dotted `key` of the parsed run file `raw` to `value`, in place; return its path.

    Sections on the way are expanded as for ``--set`` (see :func:`apply_overrides`); `label`
    starts the error messages.

    Raises
    ------
    ConfigError
        If the key walks through something that is not a mapping or past the end of a list.
    """
    parts = [p.strip() for p in key.split(".")]
    node: Any = raw
    path: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        slot: str | int
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = dotted_key(path)
                size = f"{len(node)} {'entry' if len(node) == 1 else 'entries'}"
                msg = f"{label}: {where} has no entry {yaml_repr(part)}; the list has {size}, counted from 0"
                raise ConfigError(msg)
            slot = int(part)
            current = node[slot]
        elif isinstance(node, dict):
            slot = part
            current = node.get(part)
        else:
            msg = f"{label}: {dotted_key(path)} is {yaml_repr(node)}, not a mapping"
            raise ConfigError(msg)
        path.append(slot)
        if last:
            node[slot] = value
        else:
            node[slot] = _expand_section(tuple(path), current)
            node = node[slot]
    return tuple(path)


def _is_metric_entry(path: PathKey) -> bool:
    return len(path) == 3 and path[:2] == ("evaluation", "metrics") and isinstance(path[2], int)


def _expand_section(path: PathKey, value: object) -> object:
    """Return the value at `path` ready to have a key set inside it.

    A component section given as a bare name becomes ``{"type": name}`` (a metric ``name@k``
    becomes ``{"type": name, "k": k}``); a missing one becomes its default plugin, or ``{}``.
    """
    component = path in SECTION_DEFAULTS or _is_metric_entry(path)
    if component and isinstance(value, str):
        return metric_entry(value) if _is_metric_entry(path) else {"type": value}
    if value is None:
        if path == ("evaluation", "metrics"):
            return list(DEFAULT_METRICS)
        default = SECTION_DEFAULTS.get(path)
        return {"type": default} if default is not None else {}
    return value


class _Errors:
    """Collects validation errors with their dotted paths, and renders them with locations."""

    def __init__(self, source: str, lines: Mapping[PathKey, int], overridden: Sequence[PathKey]) -> None:
        self.source = source
        self.lines = lines
        self.overridden = overridden
        self.items: list[tuple[PathKey, str]] = []

    def add(self, path: PathKey, message: str) -> None:
        self.items.append((path, message))

    def render(self, path: PathKey, message: str) -> tuple[tuple[int, int], str]:
        """Return a sort key (file lines first, then ``--set``) and the line of one error."""
        for rank, over in enumerate(self.overridden):
            if path[: len(over)] == over:
                inner = f"{dotted(path)}: " if len(path) > len(over) else ""
                return (1, rank), f"--set {dotted_key(over)}: {inner}{message}"
        what = f"{dotted(path)}: " if path else ""
        if path not in self.lines:  # a section the file leaves out, created by an override
            for rank, over in enumerate(self.overridden):
                if over[: len(path)] == path:
                    return (1, rank), f"--set {dotted_key(over)}: {what}{message}"
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return (0, line), f"{self.source}:{line}: {what}{message}"
        return (2, 0), f"{self.source}: {what}{message}"

    def raise_if_any(self) -> None:
        if not self.items:
            return
        rendered = sorted((self.render(path, message) for path, message in self.items), key=lambda r: r[0])
        raise ConfigError("\n".join(text for _, text in rendered))


def dotted(path: PathKey) -> str:
    """Render a path as ``ranker.fallback.type`` or ``evaluation.metrics[1]``, long keys shortened."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{short_text(part)}" if out else short_text(part))
    return out


def dotted_key(path: Sequence[str | int]) -> str:
    """Render a path the way ``--set`` writes it (``evaluation.metrics.0``), long keys shortened."""
    return ".".join(short_text(str(part)) for part in path)


def validate_run(
    raw: object,
    registry: PluginRegistry,
    *,
    source: str = "<config>",
    lines: Mapping[PathKey, int] | None = None,
    overridden: Sequence[PathKey] = (),
    problems: Sequence[tuple[PathKey, str]] = (),
) -> RunConfig:
    """Validate a parsed run file (a mapping) against the registry's plugins.

    Parameters
    ----------
    raw : object
        The parsed YAML document.
    registry : PluginRegistry
        Where ``type:`` names are looked up.
    source : str
        The file name used in messages.
    lines : mapping, optional
        The line of each path in the file (:func:`line_index`).
    overridden : sequence of tuple
        Paths set by ``--set``; their errors are located there instead of in the file.
    problems : sequence of (path, message)
        Errors found before validation (such as duplicate keys), reported with the others.

    Raises
    ------
    ConfigError
        Listing every problem found, each with its location.
    """
    errors = _Errors(source, lines or {}, overridden)
    for path, message in problems:
        errors.add(path, message)
    if not isinstance(raw, Mapping):
        errors.add((), f"the top level must be a mapping of sections; got {yaml_repr(raw)}")
        errors.raise_if_any()
    assert isinstance(raw, Mapping)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            errors.add((key_text(key),), _unknown_key_message(key_text(key), TOP_LEVEL_KEYS, "top-level key"))

    name = raw.get("name", Path(source).stem if source != "<config>" else "run")
    name_problem = run_name_problem(name)
    if name_problem is not None:
        errors.add(("name",), name_problem)
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        errors.add(("seed",), f"must be a non-negative integer; got {yaml_repr(seed)}")
    elif seed > INT64_MAX:
        errors.add(("seed",), f"{yaml_repr(seed)} is too large; integers must be within +-{INT64_MAX}")

    specs: dict[str, ComponentSpec | None] = {}
    fallback_raw: object = DEFAULT_FALLBACK
    filters: tuple[ComponentSpec, ...] = ()
    for section, kind in COMPONENT_SECTIONS.items():
        value = raw.get(section)
        if value is None and DEFAULT_TYPES[section] is not None:
            value = {"type": DEFAULT_TYPES[section]}
        if value is None:
            specs[section] = None
            continue
        if section == "ranker":
            value, fallback_raw = _pop_fallback(value)
        if section == "data" and isinstance(value, Mapping) and "filters" in value:
            filters = _filter_specs(value["filters"], registry, errors)
            value = {k: v for k, v in value.items() if k != "filters"}
        specs[section] = component_spec(value, kind, (section,), registry, errors)

    fallbacks: list[ComponentSpec] = []
    chain_raw = fallback_raw if isinstance(fallback_raw, list) else [] if fallback_raw is None else [fallback_raw]
    for position, entry in enumerate(chain_raw):
        path = ("ranker", "fallback", position) if isinstance(fallback_raw, list) else ("ranker", "fallback")
        spec = component_spec(entry, "ranker", path, registry, errors)
        if spec is not None:
            fallbacks.append(spec)

    evaluation = None
    if raw.get("evaluation") is not None:
        evaluation = _evaluation_spec(raw["evaluation"], registry, errors)

    output = OutputConfig()
    if raw.get("output") is not None:
        try:
            output = OutputConfig.model_validate(raw["output"])
        except ValidationError as exc:
            _add_pydantic_errors(exc, ("output",), errors, OutputConfig, raw=raw["output"])

    errors.raise_if_any()
    assert specs["matrix"] and specs["similarity"] and specs["ranker"]
    run = RunConfig(
        name=str(name),
        seed=int(seed),
        data=specs["data"],
        matrix=specs["matrix"],
        similarity=specs["similarity"],
        ranker=specs["ranker"],
        ranker_fallback=fallbacks[0] if fallbacks else None,
        ranker_fallbacks=tuple(fallbacks),
        data_filters=filters,
        evaluation=evaluation,
        output=output,
        source=source,
    )
    if raw.get("sweep") is None:
        return run
    sweep = _sweep_spec(raw, registry, source, errors)
    errors.raise_if_any()
    return replace(run, sweep=sweep)


RUN_NAME_MAX = 100
_RUN_NAME = re.compile(r"\w(?:[\w .+=@,-]*[\w.+=@,-])?")


def run_name_problem(name: object) -> str | None:
    """Return why `name` can't name a run folder (``runs/<name>``), or ``None`` if it can.

    A run name is one folder name: word characters (letters, digits, ``_``, in any script) and
    ``. - + = @ ,`` and inner spaces; it starts with a word character, holds no path separator
    and no ``..``, and is at most :data:`RUN_NAME_MAX` characters long.
    """
    if not isinstance(name, str) or not name.strip():
        return f"must be a non-empty string; got {yaml_repr(name)}"
    if "/" in name or "\\" in name:
        why = "it contains a path separator"
    elif ".." in name:
        why = "it contains '..'"
    elif len(name) > RUN_NAME_MAX:
        why = f"it is {len(name)} characters long, more than {RUN_NAME_MAX}"
    elif _RUN_NAME.fullmatch(name) is None:
        bad = [c for c in name if not (c.isalnum() or c in "_ .+=@,-")]
        if bad:
            why = f"it contains {bad[0]!r}"
        elif _RUN_NAME.match(name[0]) is None:
            why = f"it starts with {name[0]!r}"
        else:
            why = f"it ends with {name[-1]!r}"
    else:
        return None
    return (
        f"{yaml_repr(name)} can't name a run folder: {why}; a run name is written to runs/<name>, "
        "so use letters, digits, "
        f"inner spaces and _ . - + = @ , only (output.dir or --output choose any other folder)"
    )


MAX_SWEEP_SETTINGS = 1000
"""More settings than this in one sweep is refused as a likely mistake."""


def _sweep_spec(raw: Mapping[str, Any], registry: PluginRegistry, source: str, errors: _Errors) -> SweepSpec | None:
    """Validate the ``sweep`` section and every setting of its grid, each as a whole run file."""
    path: PathKey = ("sweep",)
    grid_raw = raw["sweep"]
    if raw.get("evaluation") is None:
        errors.add(path, "a sweep compares settings by their metrics; add an evaluation section")
        return None
    if not isinstance(grid_raw, Mapping) or not grid_raw:
        shown = yaml_repr(grid_raw)
        errors.add(path, f"must map dotted keys to lists of values, e.g. similarity.k: [10, 50]; got {shown}")
        return None
    grid = []
    for key, values in grid_raw.items():
        section = key.split(".")[0] if isinstance(key, str) else None
        unswept = _unswept_reason(key) if isinstance(key, str) else None
        if section not in TOP_LEVEL_KEYS:
            errors.add((*path, key_text(key)), "must be a dotted key of the run file, such as similarity.k")
        elif unswept is not None:
            errors.add((*path, key), f"can't be swept: {unswept}")
        elif not isinstance(values, list) or not values:
            errors.add((*path, key), f"must be a non-empty list of values; got {yaml_repr(values)}")
        else:
            grid.append((key, tuple(values)))
    if len(grid) != len(grid_raw):
        return None
    size = math.prod(len(values) for _, values in grid)
    if size > MAX_SWEEP_SETTINGS:
        errors.add(path, f"the grid has {size} settings, more than {MAX_SWEEP_SETTINGS}; sweep fewer values")
        return None
    base = {k: v for k, v in raw.items() if k != "sweep"}
    settings = []
    for number, combination in enumerate(itertools.product(*(values for _, values in grid)), start=1):
        pairs = zip(grid, combination, strict=True)
        label = ", ".join(f"{short_text(key)}={yaml_repr(value)}" for (key, _), value in pairs)
        document = copy.deepcopy(base)
        try:
            for (key, _), value in zip(grid, combination, strict=True):
                set_dotted(document, key, value, f"sweep setting {number} ({label})")
            settings.append((combination, validate_run(document, registry, source=source)))
        except ConfigError as exc:
            for line in str(exc).splitlines():
                errors.add(path, f"setting {number} ({label}): {line.removeprefix(source + ': ')}")
    if len(settings) != size:
        return None
    return SweepSpec(tuple(grid), tuple(settings))


def _unswept_reason(key: str) -> str | None:
    """Return why the dotted `key` can't be swept (:data:`UNSWEPT_REASONS`), or ``None`` if it can."""
    parts = [part.strip() for part in key.split(".")]
    for prefix, reason in UNSWEPT_REASONS.items():
        fixed = prefix.split(".")
        if parts[: len(fixed)] == fixed:
            return reason
    return None


def _filter_specs(value: object, registry: PluginRegistry, errors: _Errors) -> tuple[ComponentSpec, ...]:
    """Validate ``data.filters``: a list of filter sections (or bare filter names)."""
    if not isinstance(value, list):
        shown = yaml_repr(value)
        errors.add(("data", "filters"), f"must be a list of filters such as [{{type: k_core}}]; got {shown}")
        return ()
    specs = [component_spec(entry, "filter", ("data", "filters", i), registry, errors) for i, entry in enumerate(value)]
    return tuple(spec for spec in specs if spec is not None)


def _pop_fallback(value: object) -> tuple[object, object]:
    """Split the ``fallback`` key off a ranker section; the default fallback if it is absent."""
    if isinstance(value, Mapping):
        rest = {k: v for k, v in value.items() if k != "fallback"}
        fallback = value.get("fallback", DEFAULT_FALLBACK)
        return rest, fallback
    return value, DEFAULT_FALLBACK


def component_spec(
    value: object, kind: str, path: PathKey, registry: PluginRegistry, errors: _Errors
) -> ComponentSpec | None:
    """Validate one component section; record problems in `errors` and return ``None`` then."""
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        errors.add(path, f"must be a mapping with a 'type' key, or a {kind} name; got {yaml_repr(value)}")
        return None
    type_name = value.get("type")
    if type_name is None:
        errors.add(path, f"missing 'type'; registered {kind} types: {', '.join(registry.names(kind)) or 'none'}")
        return None
    if not isinstance(type_name, str):
        errors.add((*path, "type"), f"must be a {kind} name; got {yaml_repr(type_name)}")
        return None
    try:
        cls = registry.get(kind, type_name)
    except ConfigError as exc:
        errors.add((*path, "type"), str(exc))
        return None
    params = {k: v for k, v in value.items() if k != "type"}
    try:
        config = cls.Config.model_validate(params)
    except ValidationError as exc:
        _add_pydantic_errors(exc, path, errors, cls.Config, f"{kind} {yaml_repr(type_name)}", raw=params)
        return None
    return ComponentSpec(kind, type_name, config)


class _Spelled:
    """A value shown in a message as its text, unquoted (``null``, ``true``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _yaml_spelled(value: object, depth: int = 0) -> object:
    """Return `value` with Python's spellings replaced by YAML's, for :func:`yaml_repr`.

    Only what :func:`~recframe.errors.short_repr` shows is converted: the first entries of a
    few levels of lists and mappings.
    """
    if value is None:
        return _Spelled("null")
    if isinstance(value, bool):
        return _Spelled("true" if value else "false")
    if isinstance(value, float) and not math.isfinite(value):
        return _Spelled(".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf")
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime.date):  # a YAML date or timestamp, spelled as the file does
        return _Spelled(str(value))
    if depth >= 3:
        return value
    if isinstance(value, list | tuple):
        shown = [_yaml_spelled(item, depth + 1) for item in itertools.islice(value, 9)]
        return shown + [_Spelled("...")] * (len(value) > 9)
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str | int) else yaml_repr(key): _yaml_spelled(item, depth + 1)
            for key, item in itertools.islice(value.items(), 9)
        }
    return value


def key_text(key: object) -> str:
    """Return a mapping key of a run file as the file spells it (``null``, ``true``, ``1``)."""
    return key if isinstance(key, str) else yaml_repr(key)


def yaml_repr(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """Return a user's value for an error message as a run file spells it, shortened.

    :func:`~recframe.errors.short_repr`, with YAML's spellings: ``null``, ``true``/``false``,
    ``.inf``/``.nan``, a path as its text, a tuple as a list.

    Examples
    --------
    >>> yaml_repr(None), yaml_repr(True), yaml_repr([1, None, float("inf")])
    ('null', 'true', '[1, null, .inf]')
    """
    return short_repr(_yaml_spelled(value), limit)


_TYPE_WORDS: dict[str, str] = {
    "path_type": "Input should be a path (text)",
    "finite_number": "Input should be a finite number (not .inf or .nan)",
}
"""Pydantic's messages that name a Python type, in the words of a run file."""
_PYTHON_CLASS = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")
_PYTHON_WORDS = {
    "None": "null", "True": "true", "False": "false", "NoneType": "null",
    "Path": "a path (text)", "PosixPath": "a path (text)", "PurePath": "a path (text)",
    "str": "text", "int": "an integer", "float": "a number", "bool": "true or false",
    "dict": "a mapping", "list": "a list", "tuple": "a list",
}


def pydantic_message(error: ErrorDetails) -> str:
    """Return what a pydantic error says is wrong, in the words of a run file, without the value.

    Python's names for types and values (``<class 'pathlib.Path'>``, ``None``, ``True``) become
    the run file's (``a path (text)``, ``null``, ``true``).
    """
    if error["type"] in _TYPE_WORDS:
        return _TYPE_WORDS[error["type"]]
    text = str(error["msg"])
    text = _PYTHON_CLASS.sub(lambda m: _PYTHON_WORDS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\b(None|True|False)\b", lambda m: _PYTHON_WORDS[m.group(1)], text)
    return short_text(text, 4 * SHOWN_CHARACTERS)


def _data_loc(loc: tuple[int | str, ...], raw: object, missing: bool = False) -> tuple[int | str, ...]:
    """Return pydantic's error location `loc` without its union-branch tags (``int``, ``literal['auto']``).

    A part of `loc` that is not a key (or list position) of the input `raw` at that level names
    the branch of a union that was tried; the run file has no such key, so it is left out
    (unless it is the last part of a `missing` key's location).
    """
    out: list[int | str] = []
    node = raw
    for i, part in enumerate(loc):
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if in_list or (isinstance(node, Mapping) and part in node):
            node = node[part]  # type: ignore[index]
        elif missing and i == len(loc) - 1:
            pass
        elif out or not isinstance(part, str):  # a union branch's tag, not a key of the file
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def _add_pydantic_errors(
    exc: ValidationError,
    path: PathKey,
    errors: _Errors,
    model: type[BaseModel],
    owner: str = "",
    raw: object = None,
) -> None:
    """Record each of pydantic's errors at its dotted path, with clearer unknown-key messages.

    Messages are in the words of a run file (:func:`pydantic_message`, :func:`yaml_repr`); the
    branches of a union tried on one value (`raw` is the validated input) give one message.
    An error on a field typed :class:`~recframe.secrets.Secret` never shows the input: one
    message per field, the kind of value given, union branches collapsed.
    """
    secret_fields: set[tuple[int | str, ...]] = set()
    branches: dict[tuple[int | str, ...], list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if raw is not None and not is_secret_path(model, loc):
            loc = _data_loc(loc, raw, missing=error["type"] == "missing")
        if is_secret_path(model, loc):
            field = loc[: next(i for i in range(1, len(loc) + 1) if is_secret_path(model, loc[:i]))]
            if field not in secret_fields:
                secret_fields.add(field)
                errors.add((*path, *field), _secret_message(error, field))
        elif error["type"] == "extra_forbidden" and len(loc) == 1:
            allowed = tuple(model.model_fields)
            errors.add((*path, *loc), _unknown_key_message(str(loc[0]), allowed, "key", owner))
        elif error["type"] == "missing":
            errors.add((*path, *loc), "required, but missing")
        elif error["type"] == "invalid_key":  # its location is the key itself, in Python's spelling
            inner = loc[:-1] if raw is not None else tuple(error["loc"][:-1])
            errors.add((*path, *inner), f"has the key {yaml_repr(error['input'])}; keys must be names (text)")
        elif error["type"] == "value_error":  # a validator's own message, which shows the value
            errors.add((*path, *loc), short_text(_validator_message(error), 4 * SHOWN_CHARACTERS))
        elif loc in branches:
            branches[loc].append(error)
        else:
            branches[loc] = [error]
            errors.add((*path, *loc), "")  # filled in below, once every branch is known
    for loc, tried in branches.items():
        said = [pydantic_message(tried[0])]
        said += [m.removeprefix("Input should be ") for m in map(pydantic_message, tried[1:]) if m not in said]
        message = f"{', or '.join(said)}; got {yaml_repr(tried[0]['input'])}"
        errors.items[errors.items.index(((*path, *loc), ""))] = ((*path, *loc), message)


def _validator_message(error: ErrorDetails) -> str:
    """Return a validator's own message; a value it ends with (``...; got None``) spelt as YAML."""
    text = str(error["msg"]).removeprefix("Value error, ")
    python = short_repr(error.get("input"))
    if text.endswith(f"got {python}"):
        text = text[: len(text) - len(python)] + yaml_repr(error.get("input"))
    return text


def _secret_message(error: ErrorDetails, field: tuple[int | str, ...]) -> str:
    """Say what is wrong with a secret field's value without showing it."""
    if error["type"] in ("value_error", "secret_value", "assertion_error"):  # a validator's own words
        return short_text(redact(str(error["msg"]).removeprefix("Value error, ")), 4 * SHOWN_CHARACTERS)
    if error["type"] == "missing":
        return "required, but missing"
    value = error.get("input")
    if isinstance(value, str):
        return "is not valid here (the value is not shown: it may hold a password)"
    what = " (a URL)" if str(field[-1]).lower().endswith(("url", "uri", "dsn")) else ""
    return f"must be a string{what}; got {secret_kind(value)}"


def _unknown_key_message(key: str, allowed: Sequence[str], what: str, owner: str = "") -> str:
    msg = f"unknown {what} {yaml_repr(key)}" + (f" for {owner}" if owner else "")
    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    return msg + f" (allowed: {', '.join(allowed)})"


EVALUATION_KEYS = (*EVALUATION_PARTS, *EvaluationSettings.model_fields)


def _evaluation_spec(value: object, registry: PluginRegistry, errors: _Errors) -> EvaluationSpec | None:
    """Validate the ``evaluation`` section: a splitter, metrics, optional test data and settings."""
    path: PathKey = ("evaluation",)
    if not isinstance(value, Mapping):
        errors.add(path, f"must be a mapping with 'split' and 'metrics'; got {yaml_repr(value)}")
        return None
    for key in value:
        if key not in EVALUATION_KEYS:
            errors.add((*path, key_text(key)), _unknown_key_message(key_text(key), EVALUATION_KEYS, "key"))
    split_raw = DEFAULT_SPLIT if value.get("split") is None else value["split"]
    split = component_spec(split_raw, "splitter", (*path, "split"), registry, errors)
    test_data = None
    if value.get("test_data") is not None:
        test_data = component_spec(value["test_data"], "data", (*path, "test_data"), registry, errors)
    if split is not None and (split.type == "predefined") != (value.get("test_data") is not None):
        errors.add(
            (*path, "split" if split.type == "predefined" else "test_data"),
            "split 'predefined' and test_data go together: the test part comes from test_data",
        )
    settings = EvaluationSettings()
    try:
        own = {k: v for k, v in value.items() if k in EvaluationSettings.model_fields}
        settings = EvaluationSettings.model_validate(own)
    except ValidationError as exc:
        _add_pydantic_errors(exc, path, errors, EvaluationSettings, raw=own)
    metrics_raw = value.get("metrics", list(DEFAULT_METRICS))
    if not isinstance(metrics_raw, list) or not metrics_raw:
        shown = yaml_repr(metrics_raw)
        errors.add((*path, "metrics"), f"must be a non-empty list such as [precision@10, ndcg@10]; got {shown}")
        return None
    metrics = []
    for i, entry in enumerate(metrics_raw):
        spec = component_spec(metric_entry(entry), "metric", (*path, "metrics", i), registry, errors)
        if spec is not None:
            metrics.append(spec)
    labels = [str(getattr(m.build(registry), "label", m.type)) for m in metrics]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            errors.add((*path, "metrics", i), f"{label} is listed twice")
    if split is None or len(metrics) != len(metrics_raw):
        return None
    return EvaluationSpec(split, tuple(metrics), settings, test_data)


def metric_entry(entry: object) -> object:
    """Expand the ``name@k`` shorthand of a metric entry into ``{"type": name, "k": k}``."""
    if isinstance(entry, str) and "@" in entry:
        name, _, k = entry.partition("@")
        try:
            return {"type": name, "k": int(k)}
        except ValueError:
            return {"type": name, "k": k}
    return entry


def config_schema(registry: PluginRegistry) -> dict[str, Any]:
    """Return a JSON Schema of run files covering every registered plugin, for editors.

    Each component section is a ``oneOf`` of the registered plugins' configs, told apart by
    their ``type`` constant, or a bare plugin name; a metric may also be ``name@k``. The keys
    and their descriptions come from :data:`RUN_FILE_KEYS`, :data:`EVALUATION_PARTS` and the
    settings models, as does the configuration reference (:mod:`recframe.reference`).
    """
    defs: dict[str, Any] = {}

    def options(kind: str) -> list[dict[str, Any]]:
        out = []
        for entry in registry.components(kind):
            schema = entry.cls.Config.model_json_schema(ref_template="#/$defs/{model}")
            defs.update(schema.pop("$defs", {}))
            schema["properties"] = {"type": {"const": entry.name}, **schema.get("properties", {})}
            schema["required"] = ["type", *schema.get("required", [])]
            schema["title"] = f"{kind} {entry.name}"
            schema["description"] = (entry.cls.__doc__ or "").strip().split("\n\n")[0]
            out.append(schema)
        return out

    def section(kind: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        objects = options(kind)
        if extra:
            for schema in objects:
                schema["properties"] = {**schema["properties"], **extra}
        return {"oneOf": [*objects, {"type": "string", "enum": registry.names(kind)}]}

    fallback = {
        "description": "the ranker for users the main ranker can't serve, a list tried in order, or null for none",
        "anyOf": [{"type": "null"}, section("ranker"), {"type": "array", "items": section("ranker")}],
    }
    filters = {"description": "filters applied in order to what the source loads",
               "type": "array", "items": section("filter")}
    metric_names = "|".join(re.escape(name) for name in registry.names("metric"))
    swept = "|".join(re.escape(k) for k in TOP_LEVEL_KEYS if k not in UNSWEPT_KEYS)
    unswept = "|".join(re.escape(prefix) for prefix in UNSWEPT_PREFIXES)
    evaluation_parts: dict[str, Any] = {
        "split": section("splitter"),
        "metrics": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "string", "pattern": f"^({metric_names})(@[1-9][0-9]*)?$"},
                    *options("metric"),
                ]
            },
        },
        "test_data": section("data"),
    }
    for part, description in EVALUATION_PARTS.items():
        evaluation_parts[part] = {"description": description, **evaluation_parts[part]}
    properties: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1},
        "seed": {"type": "integer", "minimum": 0},
        "data": section("data", {"filters": filters}),
        "matrix": section("matrix"),
        "similarity": section("similarity"),
        "ranker": section("ranker", {"fallback": fallback}),
        "evaluation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**evaluation_parts, **_settings_schema(EvaluationSettings, defs)},
        },
        "output": {"type": "object", "additionalProperties": False,
                   "properties": _settings_schema(OutputConfig, defs)},
        "sweep": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": f"^(?!{unswept})({swept})(\\.[^.]+)*$"},
            "additionalProperties": {"type": "array", "minItems": 1},
        },
    }
    assert tuple(properties) == TOP_LEVEL_KEYS, "every top-level key needs a schema"
    for key, (meaning, default) in RUN_FILE_KEYS.items():
        properties[key] = {"description": f"{meaning} (default: {default})".replace("`", ""), **properties[key]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "recframe run file",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["data"],
        "$defs": defs,
    }


def _settings_schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON Schema properties of a settings model, its definitions moved to `defs`."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    properties: dict[str, Any] = schema["properties"]
    return properties
