"""Errors and warnings that recframe raises on purpose.

Every error a user can fix derives from :class:`RecframeError`; the command line turns each class
into a documented exit code (see :mod:`recframe.cli`).
"""

from __future__ import annotations


class RecframeError(Exception):
    """Base class for every error recframe raises on purpose."""


class ConfigError(RecframeError):
    """The run file or a value in it is wrong; the user fixes it."""


class DataError(RecframeError):
    """Input data can't be used (malformed row, empty matrix, unknown user)."""


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
