"""Whether the similarity set on a recommender since its fit changes what an update must compute.

An update gives what a fit would give now, so it takes ``rec.similarity`` as it is. Where only
run settings changed (threads, memory caps, the engine:
:attr:`~recframe.interfaces.SimilarityConfig.run_settings`), the graphs the fitted similarity
built are still right and are brought up to date in place; where anything else changed (another
backend, measure, ``k``, shrinkage, ``update_slack``), they are searched anew with it.
"""

from __future__ import annotations

from typing import Any

from recframe.interfaces import SimilarityBackend


def result_changes(current: SimilarityBackend, fitted: SimilarityBackend) -> str | None:
    """Return why `current`'s neighbours may differ from those `fitted` found, or ``None`` if they can't.

    `fitted` is the copy of the similarity the model was fitted (or last searched) with. A config
    whose fields can't be compared as JSON values (a plugin's with an array, say) counts as
    changed: a full search is always right.
    """
    if type(current) is not type(fitted):
        return f"the similarity is now {type(current).__name__}, not {type(fitted).__name__}"
    try:
        now: dict[str, Any] = current.config.model_dump(mode="json")
        then: dict[str, Any] = fitted.config.model_dump(mode="json")
    except Exception:  # a plugin's config of values pydantic can't dump as JSON
        return "the similarity's config changed since the fit (it can't be compared field by field)"
    settings: frozenset[str] = getattr(type(current.config), "run_settings", frozenset())
    changed = sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))
    if not set(changed) - settings:
        return None
    return f"the similarity's {', '.join(name for name in changed if name not in settings)} changed since the fit"
