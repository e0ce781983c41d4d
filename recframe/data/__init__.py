"""The data that flows between components: interactions, id indexes and the interaction matrix.

:class:`Interactions` is what a data source returns: columnar numpy arrays, one entry per event.
:class:`IdIndex` maps external ids (ints or strings) to matrix rows and back, and
:class:`InteractionMatrix` is the users x items CSR matrix a matrix builder produces.

One concern a submodule, all re-exported here:

- :mod:`recframe.data.ids`: id columns and query ids (:func:`as_id_array`, :func:`as_query_ids`);
- :mod:`recframe.data.columns`: value and timestamp columns (:func:`numeric_column`,
  :func:`timestamp_column`);
- :mod:`recframe.data.interactions`: :class:`Interactions`;
- :mod:`recframe.data.id_index`: :class:`IdIndex`;
- :mod:`recframe.data.matrix`: :class:`InteractionMatrix`, :func:`check_measurable`,
  :func:`index_dtype` (the index type of a new CSR matrix) and :func:`pair_order` (the order of
  (row, column) pairs, as a CSR matrix stores them);
- :mod:`recframe.data.summary`: the data summary (``describe``), not re-exported.

This package imports only numpy, scipy and :mod:`recframe.errors`: it is a contract layer,
below every implementation.
"""

from __future__ import annotations

from recframe.data.columns import FloatArray, numeric_column, plain_number, timestamp_column
from recframe.data.id_index import IdIndex
from recframe.data.ids import IdArray, IntArray, as_id_array, as_query_ids, whole_number
from recframe.data.interactions import Interactions
from recframe.data.matrix import DuplicatePolicy, InteractionMatrix, check_measurable, index_dtype, pair_order

__all__ = [
    "DuplicatePolicy",
    "FloatArray",
    "IdArray",
    "IdIndex",
    "IntArray",
    "InteractionMatrix",
    "Interactions",
    "as_id_array",
    "as_query_ids",
    "check_measurable",
    "index_dtype",
    "numeric_column",
    "pair_order",
    "plain_number",
    "timestamp_column",
    "whole_number",
]
