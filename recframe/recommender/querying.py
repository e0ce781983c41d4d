"""Querying a fitted recommender: recommend, cold-start histories, similar items and users, explain, predict.

:class:`QueryMethods` only reads the fitted state (and computes a neighbour graph once, under a
lock, on first use), so a fitted recommender serves many threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import as_query_ids
from recframe.engine.scoring import ScoringRanker
from recframe.errors import ConfigError
from recframe.interfaces import CandidateRanker, Predictions, SupportsExplain, SupportsNewUsers, SupportsPredict, TopN
from recframe.interfaces.calls import calling
from recframe.interfaces.checks import check_graph, check_topn
from recframe.interfaces.value_checks import check_predictions, overflow_hint
from recframe.recommender.arguments import _history_value, _join, _list_length, _matched, _one_id
from recframe.recommender.fitting import FitMethods, _Fitted
from recframe.results import Contribution, Explanation, RankedLists


class QueryMethods(FitMethods):
    """The query part of :class:`~recframe.recommender.Recommender`: everything asked of a fitted model."""

    def recommend(self, users: Any, n: int | None = None, *, explain: bool = False) -> RankedLists:
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

        Raises
        ------
        DataError
            If a user is unknown and there is no fallback ranker.
        NotFittedError
            If called before ``fit``.
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000 (the bounds of a ranker's ``n``).
        """
        fitted = self._state()
        queries = as_query_ids(users, "user")
        n = _list_length(n, self.ranker.config.n)
        missing = "mark" if self.fallbacks else "raise"
        rows = fitted.matrix.users.rows(queries, missing=missing, what="user")  # type: ignore[arg-type]
        ranked = self._ranked(self.ranker, rows, n, fitted)
        sources = np.where(ranked.lengths > 0, self.ranker.name, "").astype(object)
        reasons = np.full(len(rows), "", dtype=object)
        empty = ranked.lengths == 0
        reasons[empty & (rows < 0)] = "not in training"
        reasons[empty & (rows >= 0)] = f"nothing from {self.ranker.name}"
        for fallback in self.fallbacks:
            waiting = np.flatnonzero(ranked.lengths == 0)
            if not waiting.size:
                break
            extra = self._ranked(fallback, rows[waiting], n, fitted)
            ranked.items[waiting], ranked.scores[waiting] = extra.items, extra.scores
            sources[waiting] = np.where(extra.lengths > 0, fallback.name, "")
            reasons[waiting[extra.lengths == 0]] += f"; nothing from {fallback.name}"
        lists = RankedLists(
            _matched(queries, rows, fitted.matrix.users),
            ranked,
            fitted.matrix.items,
            sources.astype(str),
            reasons=reasons.astype(str),
        )
        if explain:
            lists = replace(lists, explanations=[self._explanations(lists, q, rows[q]) for q in range(len(rows))])
        return lists

    def recommend_histories(self, histories: Mapping[Any, Any] | Sequence[Any], n: int | None = None) -> RankedLists:
        """Recommend for new users from interaction histories given now, without refitting (cold start).

        Each history is a mapping ``{item: value}`` (a rating, a count) or a sequence of items
        (value 1), on the scale of the training matrix. Items not in the training data are
        ignored. The ranker and then each fallback in turn serve the users still without a list,
        if they can serve new users: ``item_cf`` from its item graph, ``user_cf`` from the new
        users' nearest training users (the similarity backend's ``query``), ``popularity`` from
        what the user has not seen. ``sources`` and ``reasons`` say who served each user and why
        the others did not.

        Parameters
        ----------
        histories : mapping of id to history, or sequence of histories
            Keyed by a name for each new user (the ``queries`` of the result), or positional.
        n : int, optional
            List length; the ranker's ``n`` by default.

        Raises
        ------
        DataError
            If a history is empty or names no training item at all and no ranker can serve it.
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000, or a history value is not a finite number of
            magnitude at most 1e100.
        """
        fitted = self._state()
        n = _list_length(n, self.ranker.config.n)
        names = list(histories) if isinstance(histories, Mapping) else list(range(len(histories)))
        rows = [histories[name] for name in names] if isinstance(histories, Mapping) else list(histories)
        matrix, unknown = self._history_matrix(rows)
        m = len(rows)
        items = np.full((m, n), -1, dtype=np.int64)
        scores = np.full((m, n), np.nan)
        sources = np.full(m, "", dtype=object)
        reasons = np.array([f"{u} unknown items ignored" if u else "" for u in unknown], dtype=object)
        for ranker in (self.ranker, *self.fallbacks):
            waiting = np.flatnonzero(items[:, 0] < 0)
            if not waiting.size:
                break
            if not isinstance(ranker, SupportsNewUsers):
                reasons[waiting] = [_join(r, f"{ranker.name} can't serve new users") for r in reasons[waiting]]
                continue
            part = sp.csr_array(matrix[waiting])
            neighbours = None
            if ranker.neighbour_axis == "users":
                backend = self._backend(fitted, "users")
                neighbours = check_graph(
                    self._call(backend, "query", part), self._who(backend), len(waiting), fitted.matrix.n_users
                )
            got = check_topn(
                self._call(ranker, "recommend_new", part, n, neighbours),
                self._who(ranker),
                len(waiting),
                n,
                fitted.matrix.n_items,
            )
            items[waiting], scores[waiting] = got.items, got.scores
            served = got.lengths > 0
            sources[waiting[served]] = ranker.name
            reasons[waiting[~served]] = [_join(r, f"nothing from {ranker.name}") for r in reasons[waiting[~served]]]
        return RankedLists(
            np.asarray(names),
            TopN(items, scores),
            fitted.matrix.items,
            sources.astype(str),
            reasons=reasons.astype(str),
        )

    def recommend_history(self, history: Any, n: int | None = None) -> RankedLists:
        """Recommend for one new user from an interaction history (see :meth:`recommend_histories`)."""
        return self.recommend_histories([history], n)

    def _history_matrix(self, histories: list[Any]) -> tuple[sp.csr_array, list[int]]:
        """Return histories as rows over the training items, and the number of unknown items of each."""
        index = self._state().matrix.items
        columns, values, lengths, unknown = [], [], [], []
        for history in histories:
            if isinstance(history, Mapping):
                ids, weights = list(history), [_history_value(item, v) for item, v in history.items()]
            else:
                ids = list(np.atleast_1d(np.asarray(history)).tolist()) if not isinstance(history, str) else [history]
                weights = [1.0] * len(ids)
            rows = index.rows(np.asarray(ids), missing="mark") if ids else np.zeros(0, dtype=np.int64)
            known = rows >= 0
            columns.append(rows[known])
            values.append(np.asarray(weights, dtype=np.float64)[known])
            lengths.append(int(known.sum()))
            unknown.append(int((~known).sum()))
        indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        matrix = sp.csr_array(
            (np.concatenate([np.zeros(0), *values]), np.concatenate([np.zeros(0, dtype=np.int64), *columns]), indptr),
            shape=(len(histories), len(index)),
        )
        matrix.sum_duplicates()
        return matrix, unknown

    def _explanations(self, lists: RankedLists, position: int, row: int) -> list[Explanation]:
        """Explain each item of one list by the ranker that produced it."""
        source = str(lists.sources[position])
        if not source:
            return []
        ranker = next(r for r in (self.ranker, *self.fallbacks) if r.name == source)
        items = lists.ranked.items[position]
        items = items[items >= 0]
        return self._explain_items(ranker, lists.queries[position].item(), row, items)

    def _explain_items(self, ranker: CandidateRanker, user: Any, row: int, items: np.ndarray) -> list[Explanation]:
        """Explain the scores `ranker` gives the item rows `items` for the user row `row`."""
        fitted = self._state()
        item_ids = fitted.matrix.items.ids_of(items).tolist()
        if isinstance(ranker, SupportsExplain) and row >= 0:
            kind = ranker.neighbour_axis
            index = fitted.matrix.items if kind == "items" else fitted.matrix.users
            reason = "similar to items the user interacted with" if kind == "items" else "chosen by similar users"
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
                out.append(Explanation(user, item, float(parts.contributions.sum()), ranker.name, kind, reason, terms))
            return out
        scores = np.full(len(items), np.nan)
        if isinstance(ranker, ScoringRanker) and (row >= 0 or ranker.scores_unknown_users):
            scores = self._call(ranker, "score_block", np.array([row]))[0, items]
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
        lists = self.recommend([user], 1)
        item_row = fitted.matrix.items.rows([item], what="item")
        source = str(lists.sources[0]) or self.ranker.name
        ranker = next(r for r in (self.ranker, *self.fallbacks) if r.name == source)
        row = int(fitted.matrix.users.rows([user], missing="mark")[0])
        return self._explain_items(ranker, lists.queries[0].item(), row, item_row)[0]

    def _ranked(self, ranker: CandidateRanker, rows: np.ndarray, n: int, fitted: _Fitted) -> TopN:
        result = self._call(ranker, "recommend", rows, n)
        axis = ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(self.similarity))
        return check_topn(result, self._who(ranker), len(rows), n, fitted.matrix.n_items, users=rows, hint=hint)

    def recommend_all(self, n: int | None = None) -> RankedLists:
        """Return the top-`n` items of every training user, in id order."""
        return self.recommend(self._state().matrix.users.ids, n)

    def similar_items(self, items: Any, n: int = 10) -> RankedLists:
        """Return the `n` most similar items of each item in `items` (never the item itself).

        Raises
        ------
        DataError
            If an item is not in the training data.
        """
        return self._similar("items", items, n)

    def similar_users(self, users: Any, n: int = 10) -> RankedLists:
        """Return the `n` most similar users of each user in `users` (never the user itself).

        Raises
        ------
        DataError
            If a user is not in the training data.
        """
        return self._similar("users", users, n)

    def _similar(self, axis: str, ids: Any, n: int) -> RankedLists:
        fitted = self._state()
        n = _list_length(n, 10)
        index = fitted.matrix.users if axis == "users" else fitted.matrix.items
        queries = as_query_ids(ids, axis[:-1])
        rows = query_rows = index.rows(queries, what=axis[:-1])
        with self._lock:  # the graph and backend are computed on first use
            graph = self._graph(fitted, axis)
            assert graph is not None
            if n > graph.k:
                backend = self._backend(fitted, axis)
                graph = check_graph(
                    self._call(backend, "neighbours", rows, k=n),
                    self._who(backend),
                    len(rows),
                    len(index),
                    query_rows=rows,
                )
                rows = np.arange(len(rows))
        picked = graph.indices[rows, :n]
        scores = np.where(picked >= 0, graph.scores[rows, :n], np.nan)
        if picked.shape[1] < n:
            pad = ((0, 0), (0, n - picked.shape[1]))
            picked = np.pad(picked, pad, constant_values=-1)
            scores = np.pad(scores, pad, constant_values=np.nan)
        source = np.where((picked >= 0).any(axis=1), self.similarity.name, "")
        return RankedLists(_matched(queries, query_rows, index), TopN(picked, scores), index, source.astype(str))

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
        fitted = self._state()
        if not isinstance(self.ranker, SupportsPredict):
            msg = f"{who} needs rating predictions, but {self._who(self.ranker)} can't predict; use item_cf or user_cf"
            raise ConfigError(msg)
        users, items = as_query_ids(users, "user"), as_query_ids(items, "item")
        if users.shape != items.shape:
            msg = f"users and items must pair up; got {len(users)} users and {len(items)} items"
            raise ValueError(msg)
        user_rows = fitted.matrix.users.rows(users, missing="mark")
        item_rows = fitted.matrix.items.rows(items, missing="mark")
        result = self._call(self.ranker, "predict", user_rows, item_rows)
        axis = self.ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(self.similarity))
        return check_predictions(result, self._who(self.ranker), len(user_rows), hint=hint)
