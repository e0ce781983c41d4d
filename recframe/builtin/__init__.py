"""recframe's built-in plugins, one module per kind, registered like any third-party plugin."""

BUILTIN_MODULES: tuple[str, ...] = (
    "recframe.builtin.data_sources",
    "recframe.builtin.filters",
    "recframe.builtin.matrix_builders",
    "recframe.builtin.similarity",
    "recframe.builtin.rankers",
    "recframe.builtin.splitters",
    "recframe.builtin.metrics",
)
"""Modules registered, in this order, before any entry point is loaded."""
