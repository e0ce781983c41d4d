"""Collecting a run file's validation errors, each placed on its file line or ``--set`` option.

Validation does not stop at the first problem: every error is recorded with its dotted path,
pydantic's errors are put in the words of a run file, and all of them are raised together as
one :class:`~recframe.errors.ConfigError`, sorted by where they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from recframe.config.messages import (
    PathKey,
    _data_loc,
    _secret_message,
    _unknown_key_message,
    _validator_message,
    dotted,
    dotted_key,
    pydantic_message,
    yaml_repr,
)
from recframe.errors import SHOWN_CHARACTERS, ConfigError, short_text
from recframe.secrets import is_secret_path


class _Errors:
    """Collects validation errors with their dotted paths, and renders them with locations."""

    def __init__(self, source: str, lines: Mapping[PathKey, int], overridden: Sequence[PathKey]) -> None:
        self.source = source
        self.lines = lines
        self.overridden = overridden
        self.items: list[tuple[PathKey, str]] = []

    def add(self, path: PathKey, message: str) -> None:
        self.items.append((path, message))

    def render(self, path: PathKey, message: str) -> tuple[tuple[int, int], str]:
        """Return a sort key (file lines first, then ``--set``) and the line of one error."""
        for rank, over in enumerate(self.overridden):
            if path[: len(over)] == over:
                inner = f"{dotted(path)}: " if len(path) > len(over) else ""
                return (1, rank), f"--set {dotted_key(over)}: {inner}{message}"
        what = f"{dotted(path)}: " if path else ""
        for cut in range(len(path), 0, -1):  # in a section the file leaves out, created by an override
            if path[:cut] in self.lines:
                break
            for rank, over in enumerate(self.overridden):
                if over[:cut] == path[:cut]:
                    return (1, rank), f"--set {dotted_key(over)}: {what}{message}"
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return (0, line), f"{self.source}:{line}: {what}{message}"
        return (2, 0), f"{self.source}: {what}{message}"

    def raise_if_any(self) -> None:
        if not self.items:
            return
        rendered = sorted((self.render(path, message) for path, message in self.items), key=lambda r: r[0])
        raise ConfigError("\n".join(text for _, text in rendered))


def _add_pydantic_errors(
    exc: ValidationError,
    path: PathKey,
    errors: _Errors,
    model: type[BaseModel],
    owner: str = "",
    raw: object = None,
) -> None:
    """Record each of pydantic's errors at its dotted path, with clearer unknown-key messages.

    Messages are in the words of a run file (:func:`pydantic_message`, :func:`yaml_repr`); the
    branches of a union tried on one value (`raw` is the validated input) give one message.
    An error on a field typed :class:`~recframe.secrets.Secret` never shows the input: one
    message per field, the kind of value given, union branches collapsed.
    """
    secret_fields: set[tuple[int | str, ...]] = set()
    branches: dict[tuple[int | str, ...], list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if raw is not None and not is_secret_path(model, loc):
            loc = _data_loc(loc, raw, missing=error["type"] == "missing")
        if is_secret_path(model, loc):
            field = loc[: next(i for i in range(1, len(loc) + 1) if is_secret_path(model, loc[:i]))]
            if field not in secret_fields:
                secret_fields.add(field)
                errors.add((*path, *field), _secret_message(error, field))
        elif error["type"] == "extra_forbidden" and len(loc) == 1:
            allowed = tuple(model.model_fields)
            errors.add((*path, *loc), _unknown_key_message(str(loc[0]), allowed, "key", owner))
        elif error["type"] == "missing":
            errors.add((*path, *loc), "required, but missing")
        elif error["type"] == "invalid_key":  # its location is the key itself, in Python's spelling
            inner = loc[:-1] if raw is not None else tuple(error["loc"][:-1])
            errors.add((*path, *inner), f"has the key {yaml_repr(error['input'])}; keys must be names (text)")
        elif error["type"] == "value_error":  # a validator's own message, which shows the value
            errors.add((*path, *loc), short_text(_validator_message(error), 4 * SHOWN_CHARACTERS))
        elif loc in branches:
            branches[loc].append(error)
        else:
            branches[loc] = [error]
            errors.add((*path, *loc), "")  # filled in below, once every branch is known
    for loc, tried in branches.items():
        said = [pydantic_message(tried[0])]
        said += [m.removeprefix("Input should be ") for m in map(pydantic_message, tried[1:]) if m not in said]
        message = f"{', or '.join(said)}; got {yaml_repr(tried[0]['input'])}"
        errors.items[errors.items.index(((*path, *loc), ""))] = ((*path, *loc), message)
