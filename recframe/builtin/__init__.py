"""recframe's built-in plugins, one module per kind, registered like any third-party plugin.

The registry imports them by name (:data:`recframe.registry.BUILTIN_MODULES`); they import only
:mod:`recframe`, :mod:`recframe.engine` and :mod:`recframe.testing`, as a third party would.
"""
