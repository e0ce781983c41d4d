"""Errors and warnings that recframe raises on purpose.

Every error a user can fix derives from :class:`RecframeError`; the command line turns each class
into a documented exit code (see :mod:`recframe.cli`).
"""

from __future__ import annotations

import reprlib

from recframe.secrets import redact


class RecframeError(Exception):
    """Base class for every error recframe raises on purpose."""


class ConfigError(RecframeError):
    """The run file or a value in it is wrong; the user fixes it."""


class DataError(RecframeError):
    """Input data can't be used (malformed row, empty matrix, unknown user)."""


class RepeatedPairError(DataError):
    """A user and an item paired more than once, given to a matrix builder that refuses it (``duplicates: error``).

    ``events`` holds the positions (0-based) of two of the pair's events in the data built
    from, in order, so a caller that joined that data (an update, after the training events)
    can say where they came from.
    """

    def __init__(self, message: str, user: object = None, item: object = None, events: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.user, self.item, self.events = user, item, events


class PluginError(RecframeError):
    """A plugin is broken, misdeclared or broke its contract."""


class ResourceError(RecframeError):
    """A step would need more memory than allowed; refused before it starts."""


class NotFittedError(RecframeError):
    """A component or recommender was queried before ``fit``."""


class RecframeWarning(UserWarning):
    """Base class for recframe warnings."""


class PluginLoadWarning(RecframeWarning):
    """A plugin failed to import and was skipped."""


SHOWN_CHARACTERS = 80
"""About the most characters of a user's value that an error message shows (:func:`short_repr`)."""
SHOWN_PATH_CHARACTERS = 1024
"""Longest path shown whole in a message: a message names its file (see :func:`path_repr`)."""

class _RedactingRepr(reprlib.Repr):
    """A :class:`reprlib.Repr` that masks credentials in strings before shortening them."""

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(redact(x), level)

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:  # repr() fails beyond 4300 digits, and takes long before
            return f"{'-' if x < 0 else ''}<an integer of {int(abs(x).bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_REPR = _RedactingRepr()  # keyword arguments need Python 3.12
_REPR.maxlevel = 3
_REPR.maxtuple = _REPR.maxlist = _REPR.maxarray = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 8
_REPR.maxdeque = 8
_REPR.maxstring = _REPR.maxother = SHOWN_CHARACTERS
_REPR.maxlong = 40


def short_repr(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """Return ``repr(value)`` for an error message, shortened to about `limit` characters.

    Every message that echoes user input shows it through this function, so that a huge value
    (a 100,000-character name, an exploded YAML alias, a deeply nested list) gives a message of
    readable size, built in bounded time. A shortened string keeps its start and says how long
    it was; containers show their first entries and nesting stops a few levels down. Credentials
    in strings (URL passwords, signed-URL tokens) are masked with :func:`recframe.secrets.redact`.

    Examples
    --------
    >>> short_repr("item_cf")
    "'item_cf'"
    >>> short_repr("abcdefghij" * 100, limit=30)
    "'abcdefghijabcdefgh'... (1000 characters)"
    >>> short_repr(list(range(100)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    """
    if isinstance(value, str):
        value = redact(value)  # before shortening, which could cut a URL between its password and '@'
        text = repr(value) if len(value) <= limit else ""
        if text and len(text) <= limit:
            return text
        return f"{value[: limit - 12]!r}... ({len(value)} characters)"
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def path_repr(path: object) -> str:
    """Return a file or folder path quoted for an error message, whole unless it is absurdly long.

    A message names the file to fix, so a path is not cut at :data:`SHOWN_CHARACTERS` like other
    echoed values (deep temporary or project folders are longer than that), only past
    :data:`SHOWN_PATH_CHARACTERS`.

    Examples
    --------
    >>> path_repr("/data/ratings.csv")
    "'/data/ratings.csv'"
    """
    return short_repr(str(path), SHOWN_PATH_CHARACTERS)


def path_text(path: object) -> str:
    """Return a path for an error message, unquoted, shortened only like :func:`path_repr`."""
    return short_text(str(path), SHOWN_PATH_CHARACTERS)


def short_text(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """Return `text` for an error message, unquoted, shortened like :func:`short_repr`.

    For text shown as it is, such as a key inside a dotted path (``similarity.k``).

    Examples
    --------
    >>> short_text("similarity")
    'similarity'
    >>> short_text("k" * 500, limit=20)
    'kkkkkkkk... (500 characters)'
    """
    return text if len(text) <= limit else f"{text[: limit - 12]}... ({len(text)} characters)"
