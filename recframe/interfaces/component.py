"""The base of every plugin component: :class:`Component`, its :class:`ComponentConfig`, the kinds.

Every component class sets ``name`` (its YAML ``type:``) and ``Config`` (a
:class:`ComponentConfig` subclass); ``kind`` comes from the interface it implements (one of
:data:`KINDS`). :func:`check_fitted` is how a component refuses queries before ``fit``;
:meth:`Component.get_state` and :meth:`Component.set_state` are the state contract of saved models.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar, Literal, TypeAlias

import numpy as np

from recframe.errors import NotFittedError, PluginError
from recframe.interfaces.settings import SettingsModel

Kind = Literal["data", "filter", "matrix", "similarity", "ranker", "splitter", "metric", "executor"]
KINDS: tuple[Kind, ...] = ("data", "filter", "matrix", "similarity", "ranker", "splitter", "metric", "executor")

JSONValue: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any] | None
"""A value JSON can hold: what a state entry may be besides an array."""

StateValue: TypeAlias = np.ndarray | JSONValue
"""One entry of a component's state: a numpy array (numbers or fixed-width text) or a JSON value."""

State: TypeAlias = dict[str, StateValue]
"""A component's fitted state (:meth:`Component.get_state`): a flat mapping of names to arrays or JSON values."""


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

    def get_state(self) -> State:
        """Return what ``fit`` learned, for a saved model: a flat dict of names to arrays or JSON values.

        The state contract: after ``other = type(self)(self.config)`` and
        ``other.set_state(self.get_state())``, ``other`` answers every query exactly as this
        component does, without refitting. Arrays (numbers, bools or fixed-width text; never
        ``object``) are saved as ``.npy`` files and come back memory-mapped read-only, so keep
        the arrays you use, not copies; other values must survive JSON (``None``, bools, ints,
        floats, text, lists and dicts of them). Keep the dict flat: a matrix is several entries
        (see :func:`~recframe.interfaces.state.csr_state` and its siblings). The config is
        saved separately and is not part of the state.

        The default returns ``{}``: right for a component that learns nothing. A component
        that keeps fitted state must override both this and :meth:`set_state`; one that
        cannot (it holds objects with no array form) raises :class:`PluginError` here, which
        names it when a model is saved.

        Returns
        -------
        dict of str to ndarray or JSON value
        """
        return {}

    def set_state(self, state: State) -> None:
        """Restore the state :meth:`get_state` returned, on a new instance of the same config.

        Parameters
        ----------
        state : dict of str to ndarray or JSON value
            What :meth:`get_state` returned, arrays read back read-only (don't write into them).

        Raises
        ------
        PluginError
            If the state is not one this class wrote; the default refuses any non-empty state,
            as a component that learns nothing saves none.
        """
        if state:
            msg = (
                f"{type(self).__name__} keeps no state, but the saved state has {', '.join(sorted(state))}; "
                "implement set_state() to restore it"
            )
            raise PluginError(msg)


def check_fitted(component: object, *attributes: str) -> None:
    """Raise :class:`NotFittedError` naming the class unless every attribute has been set by ``fit``."""
    if not all(getattr(component, a, None) is not None for a in attributes):
        name = type(component).__name__
        msg = f"{name} is not fitted; call fit() first"
        raise NotFittedError(msg)
