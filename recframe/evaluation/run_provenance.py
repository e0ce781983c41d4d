"""What decides a run's evaluated users and relevant items: its provenance, from its config and record.

Two runs can be paired user by user only when the same data, split (and seed, for a random
split) and relevance settings chose their evaluated users and relevant items, and when their
metrics of one label are defined alike. :func:`provenance` collects those settings, so that
:func:`~recframe.evaluation.compare.compare` can refuse runs that differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recframe.errors import ConfigError

if TYPE_CHECKING:
    from recframe.registry import PluginRegistry


def provenance(
    config: dict[str, Any], record: dict[str, Any], registry: PluginRegistry | None = None
) -> dict[str, object]:
    """Return what decides a run's evaluated users and relevant items, from its config and ``run.json``.

    Parameters
    ----------
    config : dict
        The resolved run file (``config.yaml``, or ``RunConfig.to_dict()``).
    record : dict
        The run record (``run.json``): ``data_fingerprint`` and ``n_interactions`` (and
        ``split``, used only when the config has no ``evaluation.split``).
    registry : PluginRegistry, optional
        Tells whether the splitter is random (only then does the seed decide the split); by
        default the installed plugins. A splitter it does not know counts as random.

    Returns
    -------
    dict
        ``data_fingerprint``, ``n_interactions`` (or, without them, the ``data`` section),
        ``split``, ``test_data``, ``seed`` (only for a random split), ``relevance_threshold``,
        ``unseen_items`` and ``metrics`` (each metric's definition by its label); a field the
        run did not record is left out.
    """
    evaluation = config.get("evaluation") if isinstance(config.get("evaluation"), dict) else {}
    assert isinstance(evaluation, dict)
    out: dict[str, object] = {}
    for key in ("data_fingerprint", "n_interactions"):
        if record.get(key) is not None:
            out[key] = record[key]
    if "data_fingerprint" not in out and isinstance(config.get("data"), dict):
        out["data"] = config["data"]  # no record of the data itself (a sweep's setting): its section
    split = evaluation.get("split", record.get("split"))
    if split is not None:
        out["split"] = split
    if "test_data" in evaluation or "split" in evaluation:
        out["test_data"] = evaluation.get("test_data")
    seed = record.get("seed", config.get("seed"))
    if seed is not None and (split is None or _split_is_random(split, registry)):
        out["seed"] = seed
    for key, default in (("relevance_threshold", None), ("unseen_items", "keep")):
        if "split" in evaluation:
            out[key] = evaluation.get(key, default)
    metrics = evaluation.get("metrics")
    if isinstance(metrics, list):
        out["metrics"] = _metric_definitions(metrics, registry)
    return out


def _metric_definitions(specs: list[Any], registry: PluginRegistry | None) -> dict[str, object]:
    """Return each metric's definition (its config) by its label (``map@10``), as in per_user.csv."""
    out: dict[str, object] = {}
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            continue
        params = {k: v for k, v in spec.items() if k != "type"}
        label = f"{spec['type']}@{params.get('k')}"
        if registry is None:
            from recframe.registry import PluginRegistry

            registry = PluginRegistry.from_environment()
        try:
            cls = registry.get("metric", spec["type"])
            label = str(getattr(cls(cls.Config(**params)), "label", label))
        except (ConfigError, ValueError, TypeError):  # an unknown or changed plugin: the plain label
            pass
        out[label] = spec
    return out


def _split_is_random(split: object, registry: PluginRegistry | None) -> bool:
    """Whether the seed decides the split: its splitter's ordering is ``random`` (or unknown)."""
    name = split.get("type") if isinstance(split, dict) else split
    if not isinstance(name, str):
        return True
    if registry is None:
        from recframe.registry import PluginRegistry

        registry = PluginRegistry.from_environment()
    try:
        return str(getattr(registry.get("splitter", name), "ordering", "random")) == "random"
    except ConfigError:
        return True
