"""The validated run: its specification classes, settings models, key tables and defaults."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field

from recframe.config.messages import PathKey, yaml_repr
from recframe.interfaces import (
    MAX_LIST_LENGTH,
    Component,
    ComponentConfig,
    SettingsModel,
)
from recframe.interfaces.calls import calling
from recframe.registry import PluginRegistry

COMPONENT_SECTIONS: dict[str, str] = {
    "data": "data",
    "matrix": "matrix",
    "similarity": "similarity",
    "ranker": "ranker",
    "executor": "executor",
}
"""Top-level section -> the component kind it holds."""


DEFAULT_TYPES: dict[str, str | None] = {
    "data": None,
    "matrix": "ratings",
    "similarity": "sklearn_nn",
    "ranker": "item_cf",
    "executor": "local",
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
    ("executor",): DEFAULT_TYPES["executor"],
}
"""The component sections of a run file (apart from metric entries) and their default plugins."""


RUN_FILE_KEYS: dict[str, tuple[str, str]] = {
    "name": (
        "name of the run; names the output folder `runs/<name>`",
        "the file's stem (each character a run name can't hold made `_`)",
    ),
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
    "executor": ("where the neighbour search and the recommendations of every user run: an executor, such as "
                 "`local` (this machine) or `ray` (a Ray cluster, from recframe-ray); see docs/executors.md",
                 f"`{DEFAULT_TYPES['executor']}` with one worker"),
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
    "executor": "every setting runs on the run's executor, which decides where work runs, not what it computes",
}
"""What a sweep can't vary, and why: each key or section is named in the error with its own reason."""


UNSWEPT_KEYS = ("name", "sweep")


UNSWEPT_PREFIXES = ("evaluation.metrics", "output", "executor")
"""What a sweep can't vary: the run's name and grid, its metrics, output and executor (:data:`UNSWEPT_REASONS`)."""


@dataclass(frozen=True)
class ComponentSpec:
    """A validated component section: which plugin, with which parameters."""

    kind: str
    type: str
    params: ComponentConfig

    def build(self, registry: PluginRegistry) -> Component:
        """Return a new instance of the component.

        Its ``__init__`` runs under :func:`~recframe.interfaces.calls.calling`, so a plugin whose constructor
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
    n: Annotated[int, Field(gt=0, le=MAX_LIST_LENGTH)] | None = None
    """Length of the written lists (1 to 10,000, as a ranker's ``n``); the ranker's ``n`` by default."""
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
    executor : ComponentSpec or None
        Where the row-by-row work runs (the ``executor`` section); ``None`` is the default,
        ``local`` with one worker.
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
    executor: ComponentSpec | None = None

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
        out["executor"] = {"type": DEFAULT_TYPES["executor"]} if self.executor is None else self.executor.to_dict()
        return out

    def to_yaml(self) -> str:
        """Return :meth:`to_dict` as YAML text, ready to be run again."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


RUN_NAME_MAX = 100


_RUN_NAME = re.compile(r"\w(?:[\w .+=@,-]*[\w.+=@,-])?")


def run_name_problem(name: object) -> str | None:
    """Return why `name` can't name a run folder (``runs/<name>``), or ``None`` if it can.

    A run name is one folder name: word characters (letters, digits, ``_``, in any script) and
    ``. - + = @ ,`` and inner spaces; it starts with a word character, holds no path separator
    and no ``..``, and is at most :data:`RUN_NAME_MAX` characters long.
    """
    if isinstance(name, bool | int | float | datetime.date):  # what YAML makes of `on`, `2024`, `2024-01-01`
        kind = "a boolean" if isinstance(name, bool) else "a date" if isinstance(name, datetime.date) else "a number"
        return f"must be a non-empty string; got {yaml_repr(name)}, which YAML reads as {kind}: quote the name"
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


def default_run_name(stem: str) -> str:
    """Return the run name of a run file without ``name:``: its file name's `stem`, made a valid run name.

    Each character a run name can't hold (``(``, ``;``, ``|``...) becomes ``_``, as do a leading
    or trailing one it can't start or end with and each ``..``; what is left is cut to
    :data:`RUN_NAME_MAX` characters (``run`` if nothing is). So ``v1.0 (final).yaml`` runs as
    ``v1.0 _final_`` instead of being refused for a key the file does not have.
    """
    name = "".join(c if c.isalnum() or c in "_ .+=@,-" else "_" for c in stem)[:RUN_NAME_MAX]
    while ".." in name:
        name = name.replace("..", "._")
    if name and _RUN_NAME.match(name[0]) is None:
        name = "_" + name[1:]
    if name.endswith(" "):
        name = name[:-1] + "_"
    return name if name and run_name_problem(name) is None else "run"


EVALUATION_KEYS = (*EVALUATION_PARTS, *EvaluationSettings.model_fields)


def metric_entry(entry: object) -> object:
    """Expand the shorthands of a metric entry into a component section (``{"type": ..., "k": ...}``).

    ``name@k`` becomes ``{"type": name, "k": k}``; a one-key mapping ``{name@k: {options}}``
    becomes ``{"type": name, "k": k, **options}`` (``name`` alone keeps the default ``k``). A
    malformed one-key form is returned unchanged; :func:`metric_entry_problem` says what is wrong.
    """
    if isinstance(entry, str) and "@" in entry:
        name, _, k = entry.partition("@")
        try:
            return {"type": name, "k": int(k)}
        except ValueError:
            return {"type": name, "k": k}
    if _keyed_form(entry) and metric_entry_problem(entry) is None:
        assert isinstance(entry, dict)
        ((key, options),) = entry.items()
        head = metric_entry(key)
        return {**(head if isinstance(head, dict) else {"type": key}), **(options or {})}
    return entry


def _keyed_form(entry: object) -> bool:
    """Whether `entry` is written ``{name@k: {options}}``: a mapping without ``type`` keyed by ``name@k``.

    A key with ``@`` marks the form; so does a single key whose value is a mapping (``{ndcg:
    {profile: lenskit}}``). Anything else without ``type`` is a component section missing it.
    """
    if not isinstance(entry, dict) or "type" in entry:
        return False
    if any(isinstance(key, str) and "@" in key for key in entry):
        return True
    return len(entry) == 1 and all(isinstance(v, dict) for v in entry.values())


def metric_entry_problem(entry: object) -> tuple[PathKey, str] | None:
    """Return what is wrong with a metric entry written ``{name@k: {options}}``, or ``None``.

    Returns
    -------
    tuple of (path inside the entry, message) or None
        The path names the offending key (``("ndcg@10", "k")``), so the error gets its line.
    """
    if not _keyed_form(entry):
        return None
    assert isinstance(entry, dict)
    if len(entry) != 1:
        keys = ", ".join(yaml_repr(key) for key in entry)
        return (), (
            f"a metric written as name@k: {{options}} has one key; got {keys}; "
            "list each metric as its own entry, or give the options beside 'type' ({type: ndcg, k: 10, ...})"
        )
    ((key, options),) = entry.items()
    if options is not None and not isinstance(options, dict):
        return (key,), (
            f"the options of {yaml_repr(key)} must be a mapping such as {{profile: lenskit}}; "
            f"got {yaml_repr(options)}"
        )
    head = metric_entry(key)
    named = head if isinstance(head, dict) else {"type": key}
    given: dict[Any, Any] = options or {}
    for field_name in ("type", "k"):
        if field_name in given and field_name in named and given[field_name] != named[field_name]:
            return (key, field_name), (
                f"{field_name} {yaml_repr(given[field_name])} conflicts with the key {yaml_repr(key)}; "
                f"name the metric once, in the key (drop {field_name}) or as {{type: ..., k: ...}}"
            )
    return None
