"""The protocol check: what about a split lets information leak from the test part into training.

Each finding is a sentence for the user; the engine logs it as a warning and records it in the
run's results. None of them stops a run: a leakage-prone protocol may be what was asked for.
"""

from __future__ import annotations

import numpy as np

from recframe.data import IdIndex, Interactions
from recframe.interfaces import Splitter


def protocol_warnings(
    splitter: Splitter, train: Interactions, test: Interactions, train_items: IdIndex
) -> dict[str, str]:
    """Return the leakage-prone features of a ``(train, test)`` split made by `splitter`, by kind."""
    found = {}
    times_differ = train.timestamps is not None and test.timestamps is not None
    if times_differ and splitter.ordering == "random":
        assert train.timestamps is not None and test.timestamps is not None
        share = _share(test.timestamps < train.timestamps.max())
        if share > 0:
            found["random_on_time"] = (
                f"split {splitter.name!r} is random on timestamped data{_declared(splitter)}: {share:.1%} of test "
                "events happen before some training event, so the model learns from the future; "
                "use leave_last_n or temporal_global for a time-respecting protocol"
            )
    if times_differ and splitter.ordering == "per_user_time":
        assert train.timestamps is not None and test.timestamps is not None
        share = _share(test.timestamps < train.timestamps.max())
        if share > 0:
            found["shared_timeline"] = (
                f"split {splitter.name!r} orders time per user on a shared timeline: {share:.1%} of test "
                "events happen before other users' training events, which the model sees; "
                "use temporal_global to cut the timeline for everyone"
            )
    unseen = train_items.rows(test.items, missing="mark") < 0
    if unseen.any():
        found["unseen_items"] = (
            f"{int(unseen.sum())} test interactions ({_share(unseen):.1%}) are of items not in the "
            "training part; no model can recommend them (see evaluation.unseen_items)"
        )
    repeated = _pairs_in(test, train)
    if repeated.any():
        found["repeated_pairs"] = (
            f"{int(repeated.sum())} test interactions ({_share(repeated):.1%}) repeat a (user, item) pair "
            "of the training part; with exclude_seen they can never be recommended, without it "
            "they reward recommending what the user already has"
        )
    return found


def _declared(splitter: Splitter) -> str:
    """Say where a plugin's splitter got ``ordering = "random"``: the default, when its class never sets it."""
    if any("ordering" in vars(cls) for cls in type(splitter).__mro__ if cls is not Splitter):
        return ""
    return " (its class does not set `ordering`, whose default is 'random'; a time-keeping split says so there)"


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _pairs_in(test: Interactions, train: Interactions) -> np.ndarray:
    """Return whether each test event's (user, item) pair occurs in `train`."""
    _, user_codes = IdIndex.encode(np.concatenate([train.users, test.users]))
    items, item_codes = IdIndex.encode(np.concatenate([train.items, test.items]))
    keys = user_codes.astype(np.int64) * len(items) + item_codes
    n_train = len(train)
    return np.isin(keys[n_train:], keys[:n_train])
