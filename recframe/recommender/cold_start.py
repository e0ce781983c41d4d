"""Cold start: recommending for new users from interaction histories given at call time.

:class:`ColdStartMethods` serves histories without refitting: each is turned into a row over
the training items, and the ranker, then each fallback that can serve new users
(:class:`~recframe.interfaces.SupportsNewUsers`), ranks the rows still without a list. Like
every query it reads the published fitted state once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import index_dtype
from recframe.interfaces import SupportsNewUsers, TopN
from recframe.interfaces.checks import check_graph, check_topn
from recframe.recommender.arguments import _history_value, _join, _list_length
from recframe.recommender.call_control import drop_banned, item_filter
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.fitting import FitMethods
from recframe.results import RankedLists


class ColdStartMethods(FitMethods):
    """The cold-start part of :class:`~recframe.recommender.Recommender`: queries by histories."""

    def recommend_histories(
        self,
        histories: Mapping[Any, Any] | Sequence[Any],
        n: int | None = None,
        *,
        exclude: Any = None,
        candidates: Any = None,
    ) -> RankedLists:
        """Recommend for new users from interaction histories given now, without refitting (cold start).

        Each history is a mapping ``{item: value}`` (a rating, a count) or a sequence of items
        (value 1), on the scale of the training matrix. Items not in the training data are
        ignored. The ranker and then each fallback in turn serve the users still without a list,
        if they can serve new users: ``item_cf`` from its item graph, ``user_cf`` from the new
        users' nearest training users (the similarity backend's ``query``), ``popularity`` from
        what the user has not seen. ``sources`` and ``reasons`` say who served each user and why
        the others did not. A history's own items are never recommended.

        Parameters
        ----------
        histories : mapping of id to history, or sequence of histories
            Keyed by a name for each new user (the ``queries`` of the result), or positional.
        n : int, optional
            List length; the ranker's ``n`` by default.
        exclude, candidates : id, array-like or set of item ids, optional
            Items never returned, and the only items that may be returned, as in
            :meth:`recommend`.

        Raises
        ------
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000, or a history value is not a finite number of
            magnitude at most 1e100.

        Notes
        -----
        A history that is empty or names no training item gets an empty list where no ranker
        can serve it (its reason says so, e.g. ``"1 unknown items ignored; nothing from item_cf"``).
        """
        fitted = self._state()
        n = _list_length(n, fitted.ranker.config.n)
        allowed = item_filter(fitted.matrix.items, exclude, candidates)
        names = list(histories) if isinstance(histories, Mapping) else list(range(len(histories)))
        rows = [histories[name] for name in names] if isinstance(histories, Mapping) else list(histories)
        matrix, unknown = self._history_matrix(fitted, rows)
        m = len(rows)
        items = np.full((m, n), -1, dtype=np.int64)
        scores = np.full((m, n), np.nan)
        sources = np.full(m, "", dtype=object)
        reasons = np.array([f"{u} unknown items ignored" if u else "" for u in unknown], dtype=object)
        # a new-user ranker has no exclude: ask for enough items that n are left once the banned go
        asked = min(n + allowed.banned.size, fitted.matrix.n_items) if allowed.active else n
        for ranker in fitted.rankers:
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
                self._call(ranker, "recommend_new", part, asked, neighbours),
                self._who(ranker),
                len(waiting),
                asked,
                fitted.matrix.n_items,
            )
            got = drop_banned(got, allowed.banned, n) if allowed.active else got
            items[waiting], scores[waiting] = got.items, got.scores
            served = got.lengths > 0
            sources[waiting[served]] = ranker.name
            reasons[waiting[~served]] = [_join(r, f"nothing from {ranker.name}") for r in reasons[waiting[~served]]]
        if allowed.note:
            reasons = np.array([_join(r, allowed.note) for r in reasons], dtype=object)
        return RankedLists(
            np.asarray(names),
            TopN(items, scores),
            fitted.matrix.items,
            sources.astype(str),
            reasons=reasons.astype(str),
        )

    def recommend_history(
        self, history: Any, n: int | None = None, *, exclude: Any = None, candidates: Any = None
    ) -> RankedLists:
        """Recommend for one new user from an interaction history (see :meth:`recommend_histories`)."""
        return self.recommend_histories([history], n, exclude=exclude, candidates=candidates)

    @staticmethod
    def _history_matrix(fitted: _Fitted, histories: list[Any]) -> tuple[sp.csr_array, list[int]]:
        """Return histories as rows over the training items, and the number of unknown items of each."""
        index = fitted.matrix.items
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
        index_type = index_dtype(sum(lengths), len(index))  # the matrix's own: no kernel compiled for another
        indptr = np.r_[0, np.cumsum(lengths)].astype(index_type)
        indices = np.concatenate([np.zeros(0, dtype=np.int64), *columns]).astype(index_type)
        data = np.concatenate([np.zeros(0), *values])
        matrix = sp.csr_array((data, indices, indptr), shape=(len(histories), len(index)))
        matrix.sum_duplicates()
        return matrix, unknown
