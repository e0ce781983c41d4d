"""Turn held-out interactions and ranked lists into what metrics score (a :class:`MetricInput`).

A held-out (user, item) pair is relevant when its rating reaches the relevance threshold (every
pair is, without one); repeated pairs count once, with their highest rating as the gain. Items
the training data never saw can't be recommended; by default they still count in the user's
``n_relevant`` (``unseen_items: keep``), so recall is not flattered by dropping them, and
``unseen_items: drop`` removes them. Users left with no relevant item are not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import FloatArray, IdIndex, IntArray, InteractionMatrix, Interactions
from recframe.errors import ConfigError, short_repr
from recframe.interfaces import MetricInput
from recframe.results import ItemExposure

UnseenItems = Literal["keep", "drop"]


@dataclass(frozen=True, eq=False)
class HeldOut:
    """The relevant held-out pairs of a test set, one entry per distinct (user, item).

    Attributes
    ----------
    users : IdIndex
        Test users with at least one relevant item.
    user_rows : ndarray of shape (n_pairs,), int64
        Row of each pair's user in `users`.
    item_rows : ndarray of shape (n_pairs,), int64
        Row of each pair's item in the training items; ``-1`` for items training never saw.
    gains : ndarray of shape (n_pairs,), float64
        Each pair's rating (``1.0`` without ratings).
    n_test_users : int
        Distinct users in the test set, relevant items or not.
    n_below_threshold : int
        Distinct test pairs under the relevance threshold (not relevant).
    n_unseen_items : int
        Relevant pairs whose item is not in the training data (kept or dropped, by policy).
    without_relevant : ndarray of shape (n_test_users - len(users),)
        External ids of the test users without a relevant item (not evaluated).
    """

    users: IdIndex
    user_rows: IntArray
    item_rows: IntArray
    gains: FloatArray
    n_test_users: int
    n_below_threshold: int
    n_unseen_items: int
    without_relevant: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_relevant(self) -> IntArray:
        """Number of relevant items of each user in `users`."""
        return np.bincount(self.user_rows, minlength=len(self.users)).astype(np.int64)


def held_out(
    test: Interactions,
    train_items: IdIndex,
    *,
    threshold: float | None = None,
    unseen_items: UnseenItems = "keep",
) -> HeldOut:
    """Return the relevant pairs of `test`, by the relevance threshold and the unseen-item policy.

    Raises
    ------
    ConfigError
        If a relevance threshold is set and the test set has no ratings, or none of its
        ratings reaches the threshold.
    """
    if threshold is not None and test.values is None:
        msg = "evaluation.relevance_threshold needs ratings, but the test interactions have none; remove the setting"
        raise ConfigError(msg)
    all_users, user_codes = IdIndex.encode(test.users)
    _, item_codes = np.unique(test.items, return_inverse=True)
    item_codes = item_codes.reshape(-1).astype(np.int64)
    gains = np.ones(len(test)) if test.values is None else test.values.astype(np.float64)
    # one entry per distinct pair, with its highest gain: sort by pair, then gain descending
    width = int(item_codes.max()) + 1 if len(item_codes) else 1
    keys = user_codes * width + item_codes
    order = np.lexsort((-gains, keys))
    first = np.r_[True, keys[order][1:] != keys[order][:-1]]
    pick = order[first]
    relevant = np.ones(len(pick), dtype=bool) if threshold is None else gains[pick] >= threshold
    n_below = int((~relevant).sum())
    if len(pick) and not relevant.any():  # the threshold, not the data, leaves nothing to evaluate
        msg = (
            f"evaluation.relevance_threshold: {short_repr(threshold)} leaves no held-out interaction relevant: "
            f"the held-out ratings run from {short_repr(float(gains.min()))} to {short_repr(float(gains.max()))}; "
            "set it at most the highest rating that means relevant"
        )
        raise ConfigError(msg)
    pick = pick[relevant]
    item_rows = train_items.rows(test.items[pick], missing="mark")
    unseen = item_rows < 0
    if unseen_items == "drop":
        pick, item_rows = pick[~unseen], item_rows[~unseen]
    users, user_rows = IdIndex.encode(test.users[pick])
    without = np.ones(len(all_users), dtype=bool)
    without[all_users.rows(users.ids)] = False
    return HeldOut(
        users=users,
        user_rows=user_rows.astype(np.int64),
        item_rows=item_rows.astype(np.int64),
        gains=gains[pick],
        n_test_users=len(all_users),
        n_below_threshold=n_below,
        n_unseen_items=int(unseen.sum()),
        without_relevant=all_users.ids[without],
    )


def metric_input(
    held: HeldOut, evaluated: IdIndex, ranked_items: IntArray, train: InteractionMatrix, depth: int
) -> MetricInput:
    """Match each evaluated user's ranked items against their relevant pairs.

    Parameters
    ----------
    held : HeldOut
        The relevant pairs; every user of `evaluated` must be among ``held.users``.
    evaluated : IdIndex
        The evaluated users; row ``u`` of `ranked_items` belongs to ``evaluated.ids[u]``.
    ranked_items : ndarray of shape (n_users, n), int64
        Training item rows, best first, ``-1`` padded.
    train : InteractionMatrix
        The training matrix.
    depth : int
        Width of the ideal gains: the largest cut-off that will be evaluated.
    """
    n_users = len(evaluated)
    position = np.full(len(held.users), -1, dtype=np.int64)
    position[held.users.rows(evaluated.ids)] = np.arange(n_users)
    pair_users = position[held.user_rows]
    mine = pair_users >= 0
    pair_users, pair_items, pair_gains = pair_users[mine], held.item_rows[mine], held.gains[mine]

    n_relevant = np.bincount(pair_users, minlength=n_users).astype(np.int64)
    ideal = np.zeros((n_users, max(depth, 1)))
    order = np.lexsort((-pair_gains, pair_users))
    starts = np.r_[0, np.cumsum(n_relevant)[:-1]]
    rank = np.arange(len(order)) - np.repeat(starts, n_relevant)
    keep = rank < ideal.shape[1]
    ideal[pair_users[order][keep], rank[keep]] = pair_gains[order][keep]

    known = pair_items >= 0
    width = max(train.n_items, 1)
    truth_keys = pair_users[known] * width + pair_items[known]
    sorter = np.argsort(truth_keys, kind="stable")
    truth_keys, truth_gains = truth_keys[sorter], pair_gains[known][sorter]
    keys = np.arange(n_users, dtype=np.int64)[:, None] * width + ranked_items
    at = np.minimum(np.searchsorted(truth_keys, keys), max(len(truth_keys) - 1, 0))
    hits = (ranked_items >= 0) & (truth_keys[at] == keys) if len(truth_keys) else np.zeros(keys.shape, dtype=bool)
    gains = np.where(hits, truth_gains[at] if len(truth_gains) else 0.0, 0.0)
    return MetricInput(
        items=ranked_items, hits=hits, gains=gains, n_relevant=n_relevant, ideal_gains=ideal, train=train
    )


def usage(
    train: Interactions,
    train_users: IdIndex,
    train_items: IdIndex,
    evaluated: IdIndex,
    held: HeldOut,
    ranked_items: IntArray,
) -> tuple[npt.NDArray[np.int64], ItemExposure]:
    """Return each evaluated user's training history length and how the split used the items.

    Parameters
    ----------
    train : Interactions
        The training part.
    train_users, train_items : IdIndex
        The training users and items (the rows and columns of the fitted matrix).
    evaluated : IdIndex
        The evaluated users.
    held : HeldOut
        The relevant held-out pairs.
    ranked_items : ndarray of shape (n_users, depth), int64
        The evaluated users' lists as training item rows, ``-1`` padded.

    Returns
    -------
    history : ndarray of shape (n_users,), int64
        Distinct training items of each evaluated user (0 for users training never saw).
    exposure : ItemExposure
        Training popularity, relevant held-out pairs and recommendations of each training item.

    Notes
    -----
    Counted from the training events, not the fitted matrix, whose weighting may drop entries
    (a mean-centred rating equal to the mean is zero). Repeated pairs count once: a sparse
    matrix of ones sums them in linear time.
    """
    n_users, n_items = len(train_users), len(train_items)
    user_rows = train_users.rows(train.users, missing="mark")
    item_rows = train_items.rows(train.items, missing="mark")
    known = (user_rows >= 0) & (item_rows >= 0)
    ones = np.ones(int(known.sum()), dtype=np.int8)
    pairs = sp.csr_array((ones, (user_rows[known], item_rows[known])), shape=(n_users, n_items))
    pairs.sum_duplicates()
    per_user = np.diff(pairs.indptr).astype(np.int64)
    rows = train_users.rows(evaluated.ids, missing="mark")
    history = np.where(rows >= 0, per_user[np.maximum(rows, 0)] if n_users else 0, 0).astype(np.int64)
    popularity = np.bincount(pairs.indices, minlength=n_items).astype(np.int64)
    relevant = np.bincount(held.item_rows[held.item_rows >= 0], minlength=n_items).astype(np.int64)
    recommended = np.bincount(ranked_items[ranked_items >= 0], minlength=n_items).astype(np.int64)
    return history, ItemExposure(popularity, relevant, recommended, int(ranked_items.shape[1]))
