"""Run the user code a run file names: ``object: package.module:name`` for the in-memory sources.

:func:`resolve_object` imports the module (from the Python path, else the current directory)
and returns the named value, calling it if it is a function; :func:`_reading` guards reading
the object afterwards. Whatever that code does by accident (fails, calls ``sys.exit()``)
becomes a :class:`~recframe.DataError` naming the config key, so a run can't stop
"successfully" having done nothing.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from recframe import DataError, RecframeError, short_repr, short_text

_REFERENCE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def _valid_reference(value: str | None) -> str | None:
    """Return `value` if it is unset or reads ``package.module:name`` (a pydantic field validator).

    Raises
    ------
    ValueError
        If `value` is not of that form.
    """
    if value is not None and not _REFERENCE.fullmatch(value):
        msg = f"must be 'package.module:name' (e.g. 'myproject.data:load_ratings'); got {value!r}"
        raise ValueError(msg)
    return value


def resolve_object(reference: str, field: str) -> object:
    """Return the object `reference` (``package.module:name``) names, calling it if it is a function.

    The module is looked up on the Python path, then in the current directory (where a run's
    own ``mydata.py`` usually lives).

    The code named runs with the run's rights: a run file is trusted input, like a Python
    script. What it can do by accident is contained: an exception, or ``SystemExit``
    (``sys.exit()``, ``exit``), while importing or calling becomes a :class:`DataError` naming
    `field`, so a run can't stop "successfully" having done nothing. ``KeyboardInterrupt``
    (Ctrl-C) still interrupts.

    Raises
    ------
    DataError
        If the module can't be imported, has no such name, or the function fails or tries to
        exit; the message names `field` and the reference.
    """
    module_name, _, attribute = reference.partition(":")
    try:
        module = _import(module_name)
    except ImportError as exc:
        msg = f"{field}: can't import {short_repr(module_name)} for {short_repr(reference)}: {_said(exc)}"
        raise DataError(msg) from exc
    except SystemExit as exc:
        msg = (
            f"{field}: importing {short_repr(module_name)} for {short_repr(reference)} tried to exit "
            f"({_exit_text(exc)}); "
            "a module must not exit"
        )
        raise DataError(msg) from exc
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # any other way user code can fail, short of Ctrl-C
        msg = (
            f"{field}: importing {short_repr(module_name)} for {short_repr(reference)} failed: "
            f"{type(exc).__name__}: {_said(exc)}"
        )
        raise DataError(msg) from exc
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            close = difflib.get_close_matches(part, [n for n in dir(value) if not n.startswith("_")], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            owner = short_text(str(getattr(value, "__name__", module_name)))
            msg = f"{field}: {short_repr(reference)}: {owner} has no {short_repr(part)}{hint}"
            raise DataError(msg)
        value = getattr(value, part)
    if callable(value) and not isinstance(value, type):
        try:
            value = value()
        except SystemExit as exc:
            msg = (
                f"{field}: calling {short_repr(reference)} tried to exit ({_exit_text(exc)}); it must return the "
                "data (a DataFrame, arrays or a sparse matrix), not end the program"
            )
            raise DataError(msg) from exc
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as exc:  # any other way user code can fail, short of Ctrl-C
            msg = f"{field}: calling {short_repr(reference)} failed: {type(exc).__name__}: {_said(exc)}"
            raise DataError(msg) from exc
    return value


@contextlib.contextmanager
def _reading(where: str) -> Iterator[None]:
    """Turn what a user's object does while it is read (exit, fail) into a DataError naming it.

    recframe's own errors pass unchanged; ``KeyboardInterrupt`` (Ctrl-C) still interrupts.
    """
    try:
        yield
    except (KeyboardInterrupt, GeneratorExit, RecframeError):
        raise
    except SystemExit as exc:
        msg = (
            f"{where}: reading the object tried to exit ({_exit_text(exc)}); it must hold the data, not end the program"
        )
        raise DataError(msg) from exc
    except BaseException as exc:
        msg = f"{where}: reading the object failed: {type(exc).__name__}: {_said(exc)}"
        raise DataError(msg) from exc


def _exit_text(exc: SystemExit) -> str:
    """Describe a ``SystemExit`` as the call that raised it: ``sys.exit(0)``."""
    return f"sys.exit({short_repr(exc.code)})" if exc.code is not None else "sys.exit()"


def _said(exc: BaseException) -> str:
    """Return what an exception from user code says, shortened: its message may be huge."""
    try:
        text = str(exc)
    except Exception:  # a user's __str__ may fail too
        text = "(its message can't be shown)"
    return short_text(text, 200)


def _import(module_name: str) -> Any:
    """Import a module from the Python path, else from the current directory.

    The current directory is put on the path only for a module not found without it, and
    taken off again at once.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] or os.getcwd() in sys.path:
            raise
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(os.getcwd())
