"""Writing a recommender back as a run config: each component as its registered ``type`` and parameters.

:func:`recommender_config` is :meth:`Recommender.to_config`: the inverse of
:meth:`Recommender.from_config`, read from the component objects, so that it holds for a
recommender built in Python as well as for one built from a run file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from recframe.config import OutputConfig
from recframe.errors import ConfigError
from recframe.interfaces import Component
from recframe.registry import PluginRegistry, builtin_registry, describe_component
from recframe.secrets import Secret

if TYPE_CHECKING:
    from recframe.recommender.fitting import FitMethods


def recommender_config(rec: FitMethods, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """Return `rec` as a run config (see :meth:`Recommender.to_config`, which documents it).

    Raises
    ------
    ConfigError
        If a component is not registered, naming its role; or if the recommender holds what no
        run file can say (filters without a data source, a splitter without metrics, metrics
        without a splitter or test data).
    """
    registries = _registries(rec.registry)

    def section(component: Component, role: str) -> dict[str, Any]:
        return component_section(component, role, registries(), reveal_secrets=reveal_secrets)

    out: dict[str, Any] = {"name": rec.name, "seed": rec.seed}
    if rec.data is not None:
        out["data"] = section(rec.data, "data")
        if rec.filters:
            out["data"]["filters"] = [section(f, f"data.filters[{i}]") for i, f in enumerate(rec.filters)]
    elif rec.filters:
        msg = (
            "data.filters: the recommender has filters but no data source, which no run file can say; add a data source"
        )
        raise ConfigError(msg)
    ranker = section(rec.ranker, "ranker")
    chain = [section(f, f"ranker.fallback[{i}]") for i, f in enumerate(rec.fallbacks)]
    ranker["fallback"] = None if not chain else chain[0] if len(chain) == 1 else chain
    out.update(matrix=section(rec.matrix, "matrix"), similarity=section(rec.similarity, "similarity"), ranker=ranker)
    evaluation = _evaluation_section(rec, section)
    if evaluation is not None:
        out["evaluation"] = evaluation
    output = rec.config.output if rec.config is not None else OutputConfig()
    out["output"] = output.model_dump(mode="json")
    out["executor"] = section(rec.executor, "executor")
    return out


def component_section(
    component: Component, role: str, registries: Iterable[PluginRegistry], *, reveal_secrets: bool = False
) -> dict[str, Any]:
    """Return one component as a run-file section: ``{"type": name, **parameters}``.

    Parameters
    ----------
    component : Component
        The component object; its ``config`` holds the parameters.
    role : str
        Its place in the run file (``"ranker"``, ``"evaluation.metrics[0]"``), for the error.
    registries : iterable of PluginRegistry
        Where the component's class is looked up, in order; it must be registered in one of
        them under its ``(kind, name)``.
    reveal_secrets : bool
        Keep :class:`~recframe.secrets.Secret` values as the objects instead of masking them.

    Raises
    ------
    ConfigError
        If the class is not registered under its name, so that no ``type:`` would build it.
    """
    cls = type(component)
    kind, name = getattr(cls, "kind", None), getattr(cls, "name", None)
    if isinstance(kind, str) and isinstance(name, str):
        for registry in registries:
            try:
                entry = registry.entry(kind, name)
            except ConfigError:  # not registered there
                continue
            if entry.cls is cls:
                return {"type": name, **_parameters(component.config, reveal_secrets=reveal_secrets)}
    shown = describe_component(cls) if isinstance(kind, str) and isinstance(name, str) else cls.__name__
    msg = (
        f"{role}: {shown} is not a registered component, so to_config() can't write its type; register "
        f"{cls.__name__} with a plugin's recframe_register_components hook, or pass the registry that has "
        "it as Recommender(registry=...)"
    )
    raise ConfigError(msg)


def _registries(given: PluginRegistry | None) -> Callable[[], Iterator[PluginRegistry]]:
    """Return what yields the registries that may know a component, in order.

    They are the recommender's registry where it has one; else the built-ins, then the
    installed plugins (loaded once, and only for a component that is not built in).
    """
    installed: list[PluginRegistry] = []

    def each() -> Iterator[PluginRegistry]:
        if given is not None:
            yield given
            return
        yield builtin_registry()
        if not installed:
            installed.append(PluginRegistry.from_environment())
        yield installed[0]

    return each


def _evaluation_section(rec: FitMethods, section: Any) -> dict[str, Any] | None:
    """Return the ``evaluation`` section of `rec`, or ``None`` when nothing of it is configured."""
    settings = rec.evaluation.model_dump(mode="json")
    default = type(rec.evaluation)().model_dump(mode="json")
    if rec.splitter is None and not rec.metrics and rec.test_data is None and settings == default:
        return None
    if not rec.metrics:
        msg = (
            "evaluation.metrics: the recommender evaluates without metrics, which no run file can say "
            "(an evaluation section needs at least one); pass metrics"
        )
        raise ConfigError(msg)
    if rec.splitter is not None:
        split = section(rec.splitter, "evaluation.split")
    elif rec.test_data is not None:  # evaluate() then splits as 'predefined' does, by that test part
        split = {"type": "predefined"}
    else:
        msg = (
            "evaluation.split: the recommender has metrics but no splitter, so it evaluates only a test part "
            "passed to evaluate(), which no run file can say; pass a splitter, or test_data for split 'predefined'"
        )
        raise ConfigError(msg)
    out: dict[str, Any] = {
        "split": split,
        "metrics": [section(m, f"evaluation.metrics[{i}]") for i, m in enumerate(rec.metrics)],
    }
    if rec.test_data is not None:
        out["test_data"] = section(rec.test_data, "evaluation.test_data")
    out.update(settings)
    return out


def _parameters(config: BaseModel, *, reveal_secrets: bool) -> dict[str, Any]:
    """Return a component config's parameters as a run file writes them, secrets masked unless revealed."""
    written: dict[str, Any] = config.model_dump(mode="json")
    if reveal_secrets:
        kept = _with_secrets(written, config.model_dump())
        assert isinstance(kept, dict)
        return kept
    return written


def _with_secrets(written: Any, python: Any) -> Any:
    """Return `written` (JSON mode) with each value that is a :class:`Secret` in `python` put back."""
    if isinstance(python, Secret):
        return python
    if isinstance(python, dict) and isinstance(written, dict):
        return {key: _with_secrets(value, python.get(key)) for key, value in written.items()}
    if isinstance(python, list | tuple) and isinstance(written, list) and len(python) == len(written):
        return [_with_secrets(w, p) for w, p in zip(written, python, strict=True)]
    return written
