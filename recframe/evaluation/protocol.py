"""Turn held-out interactions and ranked lists into the ``hits`` and ``n_relevant`` metrics use.

Every held-out (user, item) pair is relevant, also for items the training data never saw: such
an item can't be recommended, yet it counts in the user's ``n_relevant``, so recall is not
flattered by dropping it.
"""

from __future__ import annotations

import numpy as np

from recframe.data import IdIndex, IntArray, Interactions


def relevant_counts(test: Interactions, users: IdIndex) -> IntArray:
    """Return the number of distinct held-out items of each user in `users`."""
    rows = users.rows(test.users, missing="mark")
    _, item_codes = np.unique(test.items, return_inverse=True)
    keep = rows >= 0
    pairs = np.unique(rows[keep] * (item_codes.max() + 1) + item_codes.reshape(-1)[keep])
    counts = np.bincount(pairs // (item_codes.max() + 1), minlength=len(users))
    return counts.astype(np.int64)


def hits_against(test: Interactions, users: IdIndex, items: IdIndex, ranked_items: IntArray) -> np.ndarray:
    """Return whether each ranked item is a held-out item of its user.

    Parameters
    ----------
    test : Interactions
        The held-out events.
    users : IdIndex
        The evaluated users; row ``u`` of `ranked_items` belongs to ``users.ids[u]``.
    items : IdIndex
        The ids of the item rows in `ranked_items`.
    ranked_items : ndarray of shape (n_users, n), int64
        Item rows, ``-1`` padded.

    Returns
    -------
    ndarray of shape (n_users, n), bool
    """
    user_rows = users.rows(test.users, missing="mark")
    item_rows = items.rows(test.items, missing="mark")
    keep = (user_rows >= 0) & (item_rows >= 0)
    width = len(items)
    truth = np.unique(user_rows[keep] * width + item_rows[keep])
    keys = np.arange(len(users), dtype=np.int64)[:, None] * width + ranked_items
    return (ranked_items >= 0) & np.isin(keys, truth)
