"""The base of every plugin component: :class:`Component`, its :class:`ComponentConfig`, the kinds.

Every component class sets ``name`` (its YAML ``type:``) and ``Config`` (a
:class:`ComponentConfig` subclass); ``kind`` comes from the interface it implements (one of
:data:`KINDS`). :func:`check_fitted` is how a component refuses queries before ``fit``.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar, Literal

from recframe.errors import NotFittedError
from recframe.interfaces.settings import SettingsModel

Kind = Literal["data", "filter", "matrix", "similarity", "ranker", "splitter", "metric"]
KINDS: tuple[Kind, ...] = ("data", "filter", "matrix", "similarity", "ranker", "splitter", "metric")


class ComponentConfig(SettingsModel):
    """Base class of every component's parameters.

    Unknown keys are rejected, instances are immutable, floats must be finite (``nan`` and
    ``inf`` are refused), and the docstring under each field becomes its description in the
    JSON Schema and the configuration reference. Number fields refuse ``true``/``false``;
    path fields (typed :class:`~pathlib.Path`) refuse empty text, NUL characters and over-long
    values, and expand a leading ``~`` to the home folder (see :class:`SettingsModel`).
    """


class Component(ABC):
    """Base class of every plugin component: configuration in, fitted state out.

    Parameters
    ----------
    config : ComponentConfig, optional
        An instance of the class's ``Config``; or pass its fields as keyword arguments.
    **params
        Fields of ``Config``, used when `config` is not given.

    Raises
    ------
    pydantic.ValidationError
        If the parameters don't fit ``Config``.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        if config is None:
            config = self.Config(**params)
        elif params:
            msg = f"{type(self).__name__} takes a config or keyword parameters, not both"
            raise TypeError(msg)
        elif not isinstance(config, self.Config):
            msg = f"{type(self).__name__} needs a {self.Config.__name__}; got {type(config).__name__}"
            raise TypeError(msg)
        self.config = config

    def __repr__(self) -> str:
        """Show the class and its parameters."""
        fields = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({fields})"


def check_fitted(component: object, *attributes: str) -> None:
    """Raise :class:`NotFittedError` naming the class unless every attribute has been set by ``fit``."""
    if not all(getattr(component, a, None) is not None for a in attributes):
        name = type(component).__name__
        msg = f"{name} is not fitted; call fit() first"
        raise NotFittedError(msg)
