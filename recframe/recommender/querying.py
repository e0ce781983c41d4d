"""Querying a fitted recommender: recommend, similar items and users, explain, predict.

:class:`QueryMethods` only reads the fitted state (and computes a neighbour graph once, under a
lock, on first use), so a fitted recommender serves many threads at once, also while it is
refitted. Call-time control (``exclude``, ``candidates``, ``exclude_seen``, ``fill_short``) is
applied with :mod:`~recframe.recommender.call_control`. Recommending from histories given at
call time (cold start) is in :mod:`~recframe.recommender.cold_start`, its base class.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import as_query_ids
from recframe.data.ids import plain_id
from recframe.engine.scoring import ScoringRanker, checked_scores
from recframe.errors import ConfigError
from recframe.interfaces import CandidateRanker, Predictions, SupportsExplain, SupportsPredict, TopN
from recframe.interfaces.calls import calling
from recframe.interfaces.checks import check_graph, check_topn
from recframe.interfaces.value_checks import check_predictions, overflow_hint
from recframe.recommender.arguments import _flag, _join, _list_length, _matched, _one_id
from recframe.recommender.block_runs import spreads
from recframe.recommender.blocks import rank_blocks
from recframe.recommender.call_control import (
    ItemFilter,
    append_lists,
    chunks,
    drop_banned,
    exclusion_matrix,
    item_filter,
)
from recframe.recommender.call_control import with_seen as _with_seen
from recframe.recommender.cold_start import ColdStartMethods
from recframe.recommender.fitted_state import _Fitted
from recframe.results import Contribution, Explanation, RankedLists

_NEIGHBOUR_REASONS = {
    "items": ("similar to items the user interacted with", "no item the user interacted with is its neighbour"),
    "users": ("chosen by similar users", "no neighbour of the user interacted with it"),
}
"""An explanation's reason by the neighbours a ranker reads: where some add to the score, and where none do."""


class QueryMethods(ColdStartMethods):
    """The query part of :class:`~recframe.recommender.Recommender`: everything asked of a fitted model.

    Every query reads the published fitted state once (``fitted = self._state()``) and uses
    only its components, so it answers wholly from one fit even while ``fit`` runs in another
    thread.
    """

    def recommend(
        self,
        users: Any,
        n: int | None = None,
        *,
        explain: bool = False,
        exclude: Any = None,
        candidates: Any = None,
        exclude_seen: bool | None = None,
        fill_short: bool = False,
    ) -> RankedLists:
        """Return the top-`n` items of each user.

        Users the ranker can't serve (not in the training data, or nothing to recommend) get
        the first fallback ranker's list, then the next one's, and so on; ``sources`` says
        which ranker produced each list and ``reasons`` why the main ranker did not.

        Parameters
        ----------
        users : id or array-like of ids
            External user ids.
        n : int, optional
            List length; the ranker's ``n`` by default.
        explain : bool
            Also explain every ranked item (``RankedLists.explanations``): the neighbours and
            weights that add up to its score.
        exclude : id, array-like or set of item ids, optional
            Items never returned, by the ranker or any fallback. Unknown ids are ignored
            (logged at INFO and counted in ``reasons``).
        candidates : id, array-like or set of item ids, optional
            The only items that may be returned (after `exclude`); unknown ids are ignored as
            in `exclude`.
        exclude_seen : bool, optional
            Whether items the user interacted with in training are left out; by default each
            ranker's ``exclude_seen`` (``True`` unless configured otherwise). ``False`` allows
            re-consumption.
        fill_short : bool
            Also complete lists shorter than `n` (not only empty ones) from the fallback chain:
            the fallback's items not yet listed follow the list's own, with the fallback's
            scores; ``reasons`` says ``"3 of 10 from item_cf; filled 7 from popularity"``.

        Raises
        ------
        DataError
            If a user is unknown and there is no fallback ranker.
        NotFittedError
            If called before ``fit``.
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000 (the bounds of a ranker's ``n``), or an id is
            not an int or a str.
        """
        fitted = self._state()
        allowed = item_filter(fitted.matrix.items, exclude, candidates)
        seen = _flag(exclude_seen, "exclude_seen", optional=True)
        return self._recommend(fitted, users, n, explain, allowed, seen, bool(_flag(fill_short, "fill_short")))

    def _recommend(
        self,
        fitted: _Fitted,
        users: Any,
        n: int | None,
        explain: bool = False,
        items: ItemFilter | None = None,
        exclude_seen: bool | None = None,
        fill_short: bool = False,
        spread: bool = False,
    ) -> RankedLists:
        """Run :meth:`recommend` on `fitted`; with `spread`, the rankers' lists are computed on the executor."""
        queries = as_query_ids(users, "user")
        n = _list_length(n, fitted.ranker.config.n)
        items = items if items is not None else ItemFilter(np.zeros(0, dtype=np.int64))
        main = fitted.ranker
        missing = "mark" if fitted.fallbacks else "raise"
        rows = fitted.matrix.users.rows(queries, missing=missing, what="user")  # type: ignore[arg-type]
        ranked = self._controlled(fitted, main, rows, n, items, exclude_seen, spread=spread)
        sources = np.where(ranked.lengths > 0, main.name, "").astype(object)
        reasons = np.full(len(rows), "", dtype=object)
        empty = ranked.lengths == 0
        reasons[empty & (rows < 0)] = "not in training"
        reasons[empty & (rows >= 0)] = f"nothing from {main.name}"
        if fill_short:
            short = np.flatnonzero((ranked.lengths > 0) & (ranked.lengths < n))
            reasons[short] = [f"{k} of {n} from {main.name}" for k in ranked.lengths[short]]
        for fallback in fitted.fallbacks:
            lengths = ranked.lengths
            waiting = np.flatnonzero(lengths < n if fill_short else lengths == 0)
            if not waiting.size:
                break
            head = TopN(ranked.items[waiting], ranked.scores[waiting])
            listed = head.items if fill_short else None
            extra = self._controlled(fitted, fallback, rows[waiting], n, items, exclude_seen, listed, spread=spread)
            merged = append_lists(head, extra, n)
            ranked.items[waiting], ranked.scores[waiting] = merged.items, merged.scores
            added = merged.lengths - lengths[waiting]
            sources[waiting[(lengths[waiting] == 0) & (added > 0)]] = fallback.name
            reasons[waiting[added == 0]] += f"; nothing from {fallback.name}"
            topped = (lengths[waiting] > 0) & (added > 0)
            reasons[waiting[topped]] += [f"; filled {k} from {fallback.name}" for k in added[topped]]
        if items.note:
            reasons = np.array([_join(r, items.note) for r in reasons], dtype=object)
        lists = RankedLists(
            _matched(queries, rows, fitted.matrix.users),
            ranked,
            fitted.matrix.items,
            sources.astype(str),
            reasons=reasons.astype(str),
        )
        if explain:
            explanations = [self._explanations(fitted, lists, q, rows[q]) for q in range(len(rows))]
            lists = replace(lists, explanations=explanations)
        return lists

    def _controlled(
        self,
        fitted: _Fitted,
        ranker: CandidateRanker,
        rows: np.ndarray,
        n: int,
        items: ItemFilter,
        exclude_seen: bool | None,
        listed: np.ndarray | None = None,
        *,
        spread: bool = False,
    ) -> TopN:
        """Return `ranker`'s lists for user `rows`, never with a banned item nor one in `listed`.

        The exclusions go to the ranker's ``recommend`` (``exclude=``), in chunks of users that
        bound the exclusion matrix; banned items are also dropped from what it returns, so the
        guarantee holds for a ranker that ignores ``exclude``. With `spread` and no exclusion,
        the lists are computed in blocks of users on the executor.
        """
        ranker = _with_seen(ranker, exclude_seen)
        width = 0 if listed is None else listed.shape[1]
        if len(rows) == 0 or (not items.active and width == 0):
            return self._ranked(ranker, rows, n, fitted, spread=spread)
        parts = []
        for part in chunks(len(rows), items.banned.size + width):
            banned = exclusion_matrix(
                items.banned, None if listed is None else listed[part], len(rows[part]), fitted.matrix.n_items
            )
            parts.append(self._ranked(ranker, rows[part], n, fitted, exclude=banned))
        got = TopN(np.concatenate([p.items for p in parts]), np.concatenate([p.scores for p in parts]))
        if listed is not None:
            got = drop_banned(got, listed, n, per_row=True)
        return drop_banned(got, items.banned, n) if items.active else got

    def _explanations(self, fitted: _Fitted, lists: RankedLists, position: int, row: int) -> list[Explanation]:
        """Explain each item of one list by the ranker that produced it."""
        source = str(lists.sources[position])
        if not source:
            return []
        ranker = next(r for r in fitted.rankers if r.name == source)
        items = lists.ranked.items[position]
        items = items[items >= 0]
        return self._explain_items(fitted, ranker, plain_id(lists.queries[position]), row, items)

    def _explain_items(
        self, fitted: _Fitted, ranker: CandidateRanker, user: Any, row: int, items: np.ndarray
    ) -> list[Explanation]:
        """Explain the scores `ranker` of `fitted` gives the item rows `items` for the user row `row`."""
        item_ids = fitted.matrix.items.ids_of(items).tolist()
        if isinstance(ranker, SupportsExplain) and row >= 0:
            kind = ranker.neighbour_axis
            index = fitted.matrix.items if kind == "items" else fitted.matrix.users
            reasons = _NEIGHBOUR_REASONS["items" if kind == "items" else "users"]
            out = []
            with calling(lambda: self._who(ranker), "explain"):
                explained = list(ranker.explain(row, items))
            for item, parts in zip(item_ids, explained, strict=True):
                terms = [
                    Contribution(neighbour, float(s), float(v), float(c))
                    for neighbour, s, v, c in zip(
                        index.ids_of(parts.neighbours).tolist(),
                        parts.similarities,
                        parts.values,
                        parts.contributions,
                        strict=True,
                    )
                ]
                reason = reasons[0] if terms else reasons[1]
                out.append(Explanation(user, item, float(parts.contributions.sum()), ranker.name, kind, reason, terms))
            return out
        scores = np.full(len(items), np.nan)
        if isinstance(ranker, ScoringRanker) and (row >= 0 or ranker.scores_unknown_users):
            block = self._call(ranker, "score_block", np.array([row]))
            if not self._builtin(ranker):
                with calling(lambda: self._who(ranker), "score_block"):
                    block = checked_scores(block, 1, fitted.matrix.n_items, type(ranker).__name__)
            scores = block[0, items]
        reason = f"{ranker.name} score" + (" (user not in training)" if row < 0 else "")
        return [
            Explanation(user, i, float(s), ranker.name, None, reason, []) for i, s in zip(item_ids, scores, strict=True)
        ]

    def explain(self, user: Any, item: Any) -> Explanation:
        """Explain the score `item` gets for `user`: which neighbours, with which weights.

        The ranker that serves the user explains (the main one, or the fallback that produced
        the user's list). For ``item_cf`` the terms are the user's items similar to `item`; for
        ``user_cf`` the user's neighbours who interacted with `item`. The contributions add up
        to the score, also for an item the ranker would not recommend (0 then, with no terms).

        Raises
        ------
        DataError
            If the item is not in the training data, or the user is unknown without a fallback.
        """
        fitted = self._state()
        user, item = _one_id(user, "user", "explain()"), _one_id(item, "item", "explain()")
        lists = self._recommend(fitted, [user], 1)
        item_row = fitted.matrix.items.rows([item], what="item")
        source = str(lists.sources[0]) or fitted.ranker.name
        ranker = next(r for r in fitted.rankers if r.name == source)
        row = int(fitted.matrix.users.rows([user], missing="mark")[0])
        return self._explain_items(fitted, ranker, plain_id(lists.queries[0]), row, item_row)[0]

    def _ranked(
        self,
        ranker: CandidateRanker,
        rows: np.ndarray,
        n: int,
        fitted: _Fitted,
        exclude: sp.csr_array | None = None,
        *,
        spread: bool = False,
    ) -> TopN:
        """Return `ranker`'s checked lists for user `rows` (``exclude`` passed only when given).

        With `spread` (and no `exclude`) an executor that runs blocks side by side computes
        them in blocks of users, the fitted ranker as their shared payload.
        """
        extra = {} if exclude is None else {"exclude": exclude}
        if spread and exclude is None and spreads(self.executor, len(rows)):
            runs, n_items = self._who(self.executor), fitted.matrix.n_items
            result = rank_blocks(self.executor, ranker, rows, n, self._who(ranker), n_items, runs)
        else:
            result = self._call(ranker, "recommend", rows, n, **extra)
        axis = ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(fitted.similarity))
        return check_topn(result, self._who(ranker), len(rows), n, fitted.matrix.n_items, users=rows, hint=hint)

    def recommend_all(
        self, n: int | None = None, *, exclude: Any = None, candidates: Any = None, exclude_seen: bool | None = None
    ) -> RankedLists:
        """Return the top-`n` items of every training user, in id order (the other arguments as :meth:`recommend`'s).

        Without `exclude` and `candidates`, the lists are computed in blocks of users on the
        recommender's executor (the same lists as in one call).
        """
        fitted = self._state()
        allowed = item_filter(fitted.matrix.items, exclude, candidates)
        seen = _flag(exclude_seen, "exclude_seen", optional=True)
        return self._recommend(fitted, fitted.matrix.users.ids, n, items=allowed, exclude_seen=seen, spread=True)

    def similar_items(self, items: Any, n: int = 10, *, exclude: Any = None, candidates: Any = None) -> RankedLists:
        """Return the `n` most similar items of each item in `items` (never the item itself).

        `exclude` and `candidates` (item ids) restrict what may be returned, as in
        :meth:`recommend`. Ties keep the similarity backend's order (the built-in ones: lower
        row, that is lower id, first).

        Raises
        ------
        DataError
            If an item is not in the training data.
        """
        return self._similar("items", items, n, exclude, candidates)

    def similar_users(self, users: Any, n: int = 10, *, exclude: Any = None, candidates: Any = None) -> RankedLists:
        """Return the `n` most similar users of each user in `users` (never the user itself).

        `exclude` and `candidates` are user ids here.

        Raises
        ------
        DataError
            If a user is not in the training data.
        """
        return self._similar("users", users, n, exclude, candidates)

    def _similar(self, axis: str, ids: Any, n: int, exclude: Any = None, candidates: Any = None) -> RankedLists:
        fitted = self._state()
        n = _list_length(n, 10)
        index = fitted.matrix.users if axis == "users" else fitted.matrix.items
        queries = as_query_ids(ids, axis[:-1])
        rows = query_rows = index.rows(queries, what=axis[:-1])
        allowed = item_filter(index, exclude, candidates, what=axis[:-1])
        # enough neighbours that n are left once the banned ones go (a row has at most len - 1)
        wanted = max(n, min(n + allowed.banned.size, len(index) - 1)) if allowed.active else n
        with self._lock:  # the graph and backend are computed on first use (the search below runs outside)
            graph = self._graph(fitted, axis)
            assert graph is not None
            backend = self._backend(fitted, axis) if wanted > graph.k else None
        if backend is not None:  # more than the graph holds: these rows searched again, not holding others up
            graph = check_graph(
                self._call(backend, "neighbours", rows, k=wanted),
                self._who(backend),
                len(rows),
                len(index),
                query_rows=rows,
            )
            rows = np.arange(len(rows))
        picked = graph.indices[rows, :wanted]
        scores = np.where(picked >= 0, graph.scores[rows, :wanted], np.nan)
        if picked.shape[1] < n:
            pad = ((0, 0), (0, n - picked.shape[1]))
            picked = np.pad(picked, pad, constant_values=-1)
            scores = np.pad(scores, pad, constant_values=np.nan)
        lists = drop_banned(TopN(picked, scores), query_rows[:, None], picked.shape[1], per_row=True)  # never itself
        lists = (
            drop_banned(lists, allowed.banned, n) if allowed.active else TopN(lists.items[:, :n], lists.scores[:, :n])
        )
        source = np.where(lists.lengths > 0, fitted.similarity.name, "")
        reasons = np.full(len(queries), allowed.note, dtype=object).astype(str) if allowed.note else None
        return RankedLists(_matched(queries, query_rows, index), lists, index, source.astype(str), reasons=reasons)

    def predict(self, users: Any, items: Any, *, who: str = "predict()") -> Predictions:
        """Predict the rating of each (user, item) pair: `users` and `items` are paired in order.

        Pairs no neighbour can predict, such as users or items not in the training data, get the
        ranker's ``prediction_fallback`` (the global mean where that needs an unknown user or
        item); ``Predictions.source`` says what answered.

        Raises
        ------
        ConfigError
            If the ranker can't predict ratings (only ``item_cf`` and ``user_cf`` can).
        ValueError
            If `users` and `items` differ in length.
        NotFittedError
            If called before ``fit``.
        """
        return self._predict(self._state(), users, items, who)

    def _predict(self, fitted: _Fitted, users: Any, items: Any, who: str) -> Predictions:
        """Run :meth:`predict` on `fitted`."""
        ranker = fitted.ranker
        if not isinstance(ranker, SupportsPredict):
            msg = f"{who} needs rating predictions, but {self._who(ranker)} can't predict; use item_cf or user_cf"
            raise ConfigError(msg)
        users, items = as_query_ids(users, "user"), as_query_ids(items, "item")
        if users.shape != items.shape:
            msg = f"users and items must pair up; got {len(users)} users and {len(items)} items"
            raise ValueError(msg)
        user_rows = fitted.matrix.users.rows(users, missing="mark")
        item_rows = fitted.matrix.items.rows(items, missing="mark")
        result = self._call(ranker, "predict", user_rows, item_rows)
        axis = ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(fitted.similarity))
        return check_predictions(result, self._who(ranker), len(user_rows), hint=hint)
