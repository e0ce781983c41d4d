"""Generate the configuration reference from the registered plugins' config models.

``docs/configuration.md`` is this module's output (``recframe config reference``), and a test
checks that it is up to date, so the reference cannot drift from the code.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from recframe.config.model import (
    EVALUATION_PARTS,
    RUN_FILE_KEYS,
    UNSWEPT_KEYS,
    UNSWEPT_PREFIXES,
    EvaluationSettings,
    OutputConfig,
)
from recframe.config.validation import MAX_SWEEP_SETTINGS
from recframe.config.yaml_source import MAX_CONFIG_BYTES, MAX_NESTING, MAX_VALUES
from recframe.interfaces import MAX_PATH_LENGTH
from recframe.registry import PluginRegistry

SECTION_TITLES = {
    "data": "Data sources (`data`)",
    "filter": "Filters (`data.filters`)",
    "matrix": "Matrix builders (`matrix`)",
    "similarity": "Similarity backends (`similarity`)",
    "ranker": "Candidate rankers (`ranker`)",
    "splitter": "Splitters (`evaluation.split`)",
    "metric": "Metrics (`evaluation.metrics`)",
    "executor": "Executors (`executor`)",
}
"""A section for every component kind (:data:`~recframe.interfaces.component.KINDS`), in the order of a run file."""

HEADER = """\
# Configuration reference

<!-- Generated from the config models by `python -m recframe.config.reference > docs/configuration.md`;
     do not edit by hand. `recframe config reference` prints it with installed plugins included. -->

A run file is YAML with these top-level keys:

| key | meaning | default |
|---|---|---|
{keys}

Each component section picks its plugin with `type:` and passes that plugin's parameters beside
it (or is just the plugin's name); unknown keys are errors. `--set section.key=value` overrides
any value from the command line. `recframe config schema` prints the same structure as a JSON
Schema for editors. A run file (or a `--set` value) may nest lists and mappings at most
{max_nesting} levels deep and hold at most {max_values:,} values, YAML aliases counted as expanded;
the file is a regular file of at most {max_megabytes} MB. A path (every key of type Path) may start
with `~` for the home folder; an empty path (write `.` for the current folder), a NUL character or
more than {max_path:,} characters is refused, as is `true`/`false` for a number.
"""

FALLBACK = """### Fallback chain (`ranker.fallback`)

Users the ranker can't serve (not in the training data, or nothing to recommend) are served by
`ranker.fallback`: one ranker section (a name or a mapping as above), a list of them tried in
order (`fallback: [item_cf, {type: popularity, n: 20}]`), or `null` for none (such users are
then an error).
"""

SWEEP = """## Sweep (`sweep`)

`sweep` maps dotted keys of the run file to the list of values each takes; the run fits and
evaluates every combination (the first key varies slowest) and compares them:

```yaml
evaluation: {{split: kfold, metrics: [ndcg@10, recall@10]}}
sweep:
  similarity.k: [10, 20, 50]
  ranker.type: [item_cf, user_cf]
```

Every setting is validated as a whole run file before anything runs. A sweep needs an
`evaluation` section; it can't vary {unswept}, nor a key inside another swept key
(`similarity` and `similarity.k`: one would overwrite the other). At most {max_settings} settings.
"""


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default if info.default_factory is None else info.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "`null`"
    return f"`{value!r}`" if not isinstance(value, str) else f'`"{value}"`'


def _type_name(annotation: Any) -> str:
    """Render a field annotation for readers: ``int``, ``one of "a", "b"``, ``float or null``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        bounds = _bounds(args[1:])
        return _type_name(args[0]) + (f" ({bounds})" if bounds else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(f'"{a}"' if isinstance(a, str) else repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if annotation is type(None):
        return "null"
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "length >=", "max_length": "length <="}


def _bounds(metadata: typing.Iterable[object]) -> str:
    """Render annotated-types constraints such as ``Ge(ge=0)`` as ``>= 0``."""
    parts = []
    for meta in metadata:
        for attr, symbol in _BOUNDS.items():
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def _constraints(info: FieldInfo) -> str:
    return _bounds(info.metadata)


def _description(docstring: str | None) -> str:
    """Return a docstring's prose: everything before its first numpydoc section."""
    text = inspect.cleandoc(docstring or "")
    match = re.search(r"^\S[^\n]*\n-{3,}$", text, re.MULTILINE)
    return (text[: match.start()] if match else text).strip()


def model_table(model: type[BaseModel]) -> list[str]:
    """Return the Markdown table of a config model's fields."""
    if not model.model_fields:
        return ["No parameters.", ""]
    rows = ["| parameter | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        constraints = _constraints(info)
        kind = _type_name(info.annotation) + (f", {constraints}" if constraints else "")
        description = " ".join((info.description or "").split()).replace("``", "`").replace("|", "\\|")
        rows.append(f"| `{name}` | {kind} | {_default(info)} | {description} |")
    return [*rows, ""]


def configuration_reference(registry: PluginRegistry) -> str:
    """Return the Markdown configuration reference of every registered plugin."""
    rows = [f"| `{key}` | {_cell(meaning)} | {_cell(default)} |" for key, (meaning, default) in RUN_FILE_KEYS.items()]
    lines = [
        HEADER.format(
            keys="\n".join(rows),
            max_nesting=MAX_NESTING,
            max_values=MAX_VALUES,
            max_megabytes=MAX_CONFIG_BYTES // 2**20,
            max_path=MAX_PATH_LENGTH,
        )
    ]
    for kind, title in SECTION_TITLES.items():
        lines += [f"## {title}", ""]
        for entry in registry.components(kind):
            doc = _description(entry.cls.__doc__)
            lines += [f"### `{entry.name}`", "", f"*{entry.plugin.package}* · `{entry.cls.__name__}`", "", doc, ""]
            lines += model_table(entry.cls.Config)
        if kind == "ranker":
            lines += [FALLBACK]
    lines += ["## Evaluation (`evaluation`)", "", "| key | meaning |", "|---|---|"]
    lines += [f"| `{part}` | {_cell(meaning)} |" for part, meaning in EVALUATION_PARTS.items()]
    lines += ["", "The section's own settings:", "", *model_table(EvaluationSettings)]
    lines += ["## Output (`output`)", "", *model_table(OutputConfig)]
    unswept = ", ".join(f"`{key}`" for key in (*UNSWEPT_KEYS, *UNSWEPT_PREFIXES))
    lines += [SWEEP.format(unswept=unswept, max_settings=MAX_SWEEP_SETTINGS)]
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    """Return `text` safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def hook_reference() -> str:
    """Return the Markdown reference of every hook in :mod:`recframe.hookspecs`."""
    from recframe import hookspecs

    lines = [
        "# Hook reference",
        "",
        "<!-- Generated from recframe/hookspecs.py by `python -m recframe.config.reference hooks > docs/hooks.md`;",
        "     do not edit by hand. -->",
        "",
        inspect.cleandoc(hookspecs.__doc__ or ""),
        "",
    ]
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("recframe_"):
            continue
        signature = inspect.signature(function)
        lines += [f"## `{name}{signature}`", "", inspect.cleandoc(function.__doc__ or ""), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["hooks"]:
        print(hook_reference(), end="")
    else:
        print(configuration_reference(PluginRegistry.from_environment(entry_points=False)), end="")
