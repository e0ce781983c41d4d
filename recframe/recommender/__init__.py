"""The Recommender API: fit / recommend / similar / explain / predict / evaluate.

:class:`Recommender` is built from a run file, a mapping or component objects, fitted, then
queried from any number of threads. Its methods are grouped by concern:

- :mod:`~recframe.recommender.recommender`: the class, its construction and ``to_config``;
- :mod:`~recframe.recommender.config_export`: writing components back as run-file sections;
- :mod:`~recframe.recommender.fitting`: the fitted state and ``fit``;
- :mod:`~recframe.recommender.querying`: ``recommend``, ``similar_items``, ``explain``, ``predict``;
- :mod:`~recframe.recommender.cold_start`: ``recommend_histories`` (new users, no refit);
- :mod:`~recframe.recommender.call_control`: ``exclude``, ``candidates`` and short-list policies;
- :mod:`~recframe.recommender.evaluating`: ``evaluate``;
- :mod:`~recframe.recommender.arguments`: checks of query arguments;
- :mod:`~recframe.recommender.filtering`: running a data section's filters;
- :mod:`~recframe.recommender.preflight`: memory estimates checked before a step runs.
"""

from __future__ import annotations

from recframe.recommender.arguments import MAX_HISTORY_VALUE
from recframe.recommender.recommender import Recommender

__all__ = ["MAX_HISTORY_VALUE", "Recommender"]
