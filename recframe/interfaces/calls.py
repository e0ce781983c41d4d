"""How the engine calls into a component: what plugin code raises by accident becomes a named error.

Every call the engine makes into a component runs inside :func:`calling`; a data source's
``load()`` and a filter's ``apply()`` also run inside :func:`checked_interactions`, which says
whether invalid interactions are the component's fault or the data's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from recframe.errors import SHOWN_CHARACTERS, DataError, PluginError, RecframeError, short_text


def is_builtin(cls: type) -> bool:
    """Whether `cls` is one of recframe's own classes (a built-in, or a base class of the engine), not a plugin's."""
    module = cls.__module__
    return module == "recframe" or module.startswith("recframe.")


@contextmanager
def calling(who: str | Callable[[], str], method: str) -> Iterator[None]:
    """Turn what component code raises by accident into a :class:`PluginError` naming it.

    The engine makes every call into a component (``fit``, ``neighbours``, ``recommend``,
    ``compute``, ``load``, ...) inside this context. A :class:`RecframeError` the component
    raises on purpose (``DataError``, ``ConfigError``) passes through unchanged, and so does
    ``KeyboardInterrupt`` (the user's Ctrl-C); any other exception, and every other
    ``BaseException`` (``SystemExit``, ``GeneratorExit``, ...), becomes ``PluginError``
    ``"ranker 'x' (pkg 1.0) raised ValueError in recommend(): <message>"`` chained to it, so
    that a plugin can neither end the run silently nor print an unbounded traceback.

    Parameters
    ----------
    who : str or callable returning str
        How to name the component (kind, name, package and version); a callable is only
        called on failure.
    method : str
        The method called, without parentheses.
    """
    try:
        yield
    except (RecframeError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # GeneratorExit, SystemExit...: bugs of the plugin too
        name = who() if callable(who) else who
        raise PluginError(plugin_failure(name, method, exc)) from exc


@contextmanager
def checked_interactions(
    who: str, *, builtin: bool, data_faults: frozenset[tuple[str, str]] = frozenset()
) -> Iterator[None]:
    """Name the component when what it returns as :class:`Interactions` fails their checks.

    The engine calls a data source's ``load()``, a filter's ``apply()`` and a matrix builder's
    ``build()`` and ``update()`` inside this context (and inside :func:`calling`). A
    :class:`DataError` raised while :mod:`recframe.data` checks the interactions or the matrix
    being built (``user ids must be integers or strings``, ``values[0] is nan``, a matrix of
    another shape than its id indexes) says what is wrong but not who built them: for a
    third-party component it is a bug in that component, so it becomes ``PluginError``
    ``"data 'x' (pkg 1.0) returned invalid data: <message>"`` (exit 1); for a built-in source
    the data is at fault, so it stays a ``DataError`` (exit 3) prefixed with the source's name.
    A ``DataError`` the component raises itself (a malformed row of its file) passes through
    unchanged.

    `data_faults` names the checks of :mod:`recframe.data` (``(module, function)`` of the
    innermost frame) whose errors are the data's even there, and pass unchanged: a matrix
    builder's (:data:`recframe.data.matrix.DATA_FAULTS`: a pair repeated under ``duplicates:
    error``, no events, values too large or small to measure).
    """
    try:
        yield
    except DataError as exc:
        if not _raised_in_data_checks(exc) or _innermost(exc) in data_faults:
            raise
        if builtin:
            msg = f"{who} read invalid data: {exc}"
            raise DataError(msg) from exc
        msg = f"{who} returned invalid data: {exc}; fix the component (a bug in it, not in your data file)"
        raise PluginError(msg) from exc


def _raised_in_data_checks(exc: BaseException) -> bool:
    """Whether `exc` was raised by the checks of :mod:`recframe.data` (its innermost frame there)."""
    module = _innermost(exc)[0]
    return module == "recframe.data" or module.startswith("recframe.data.")


def _innermost(exc: BaseException) -> tuple[str, str]:
    """Return the module and the function of the frame that raised `exc` (empty where unknown)."""
    tb = exc.__traceback__
    if tb is None:
        return "", ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__") or "", tb.tb_frame.f_code.co_name


def plugin_failure(who: str, method: str, exc: BaseException) -> str:
    """Return the message of a component's accidental exception, its text shortened."""
    try:
        text = " ".join(str(exc).split())
    except Exception:  # an exception whose __str__ fails: say so rather than fail again
        text = "(its message could not be read)"
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else f" (exit code {short_text(str(exc.code), SHOWN_CHARACTERS // 2)})"
        return f"{who} raised SystemExit in {method}(){code}; a component must raise an exception, not end the program"
    shown = f": {short_text(text, 2 * SHOWN_CHARACTERS)}" if text else ""
    return f"{who} raised {short_text(type(exc).__name__)} in {method}(){shown}"
