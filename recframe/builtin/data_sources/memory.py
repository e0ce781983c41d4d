"""The ``dataframe`` and ``arrays`` sources: interactions held as Python objects, for embedding.

An engineer embedding recframe hands over a pandas or polars DataFrame, numpy arrays or a scipy
sparse matrix: in Python with ``DataFrameDataSource.of(frame, user="customer_id")``, in YAML
by naming where the object lives (``object: package.module:name``, a value or a function
returning one), and ``arrays`` also reads ``.npz`` files. Either way the run's filters, data
report and evaluation apply as for a file. Objects are used as given, not copied.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt, field_validator

from recframe import ComponentConfig, DataError, DataSource, Interactions, short_text
from recframe.builtin.data_sources.columns import columns_found, interactions_of, named_columns
from recframe.builtin.data_sources.files import readable_path
from recframe.builtin.data_sources.text_files import MAX_RATIO, RATIO_FROM_BYTES
from recframe.builtin.data_sources.user_objects import _reading, _valid_reference, resolve_object

if TYPE_CHECKING:
    from typing_extensions import Self


def _column_names(data: object) -> list[str] | None:
    """Return the column names of a DataFrame, a mapping or a structured array; ``None`` otherwise."""
    if isinstance(data, Mapping):
        return [str(name) for name in data]
    if isinstance(data, np.ndarray):
        return None if data.dtype.names is None else list(data.dtype.names)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return [str(name) for name in data.columns]
    return None


def _column_key(data: object, name: str) -> object:
    """Return the key of the column listed as `name`: itself, or the non-text key that prints as it (``0`` for ``'0'``).

    Column names are listed and matched as text (a run file's ``user: 0`` is the text ``'0'``),
    so a frame with integer column labels is read by the label whose text is `name`.
    """
    if isinstance(data, Mapping):
        keys = list(data)
    else:
        columns = getattr(data, "columns", None)
        keys = [] if columns is None or isinstance(data, np.ndarray) else list(columns)
    if name in keys or not keys:
        return name
    return next((key for key in keys if str(key) == name), name)


class ObjectConfig(ComponentConfig):
    """What the ``dataframe`` and ``arrays`` sources share: where the data is, and its columns."""

    object: str | None = None
    """Where the data lives, as ``package.module:name``: a value, or a function returning one
    (called with no arguments). Left out in Python, where the data is handed to the source's
    ``.of(data, ...)``."""
    user: str = "user"
    """Column (or array) of the user ids."""
    item: str = "item"
    """Column (or array) of the item ids."""
    rating: str | None = None
    """Column (or array) of the ratings, optional: ``rating`` is used if present (and for
    ``arrays``, else ``value``)."""
    timestamp: str | None = None
    """Column (or array) of the timestamps, optional (``timestamp`` is used if present);
    date-time columns become Unix seconds."""

    _reference = field_validator("object")(_valid_reference)


class _InMemorySource(DataSource):
    """What ``dataframe`` and ``arrays`` share: where the object comes from, and how its columns are read."""

    config: ObjectConfig
    _given: object = None

    @classmethod
    def of(cls, data: object, **params: Any) -> Self:
        """Return a source serving `data` as it is (not copied); `params` are its other settings.

        Raises
        ------
        pydantic.ValidationError
            If `params` don't fit the source's settings.
        """
        source = cls(**params)
        source._given = data
        return source

    def _object(self) -> object:
        """Return the object to read: the one given to :meth:`of`, else the one ``object`` names."""
        if self._given is not None:
            return self._given
        reference = self.config.object
        if reference is None:
            msg = (
                f"data ({self.name}): no data; set data.object to 'package.module:name', or build the "
                f"source in Python with {type(self).__name__}.of(...)"
            )
            raise DataError(msg)
        return resolve_object(reference, "data.object")

    def _where(self) -> str:
        """Name the source in errors, with the object reference where there is one."""
        reference = self.config.object
        shown = "" if self._given is not None or reference is None else " " + short_text(reference)
        return f"data ({self.name}{shown})"

    def _from_columns(
        self, data: object, names: list[str], *, config: ObjectConfig | None = None, where: str | None = None
    ) -> Interactions:
        """Read the configured columns of a table-like object, date-times becoming Unix seconds."""
        c = self.config if config is None else config
        where = self._where() if where is None else where
        roles = named_columns(c, names, lambda wanted: f"{where}: no column {wanted}; it has {columns_found(names)}")
        columns: dict[str, np.ndarray] = {}
        for role, name in roles.items():
            values: Any = data[_column_key(data, name)]  # type: ignore[index]
            if hasattr(values, "to_numpy"):
                values = values.to_numpy()
            elif not isinstance(values, list | tuple):
                values = np.asarray(values)
            columns[role] = values  # lists stay lists: as_id_array keeps [1, "1"] apart; date-times become seconds
        interactions = interactions_of(columns, roles, where)
        if len(interactions) == 0:
            msg = f"{where}: no interactions; it has no rows"
            raise DataError(msg)
        return interactions


class DataFrameConfig(ObjectConfig):
    """Parameters of :class:`DataFrameDataSource`: ``object`` names a pandas or polars DataFrame."""


class DataFrameDataSource(_InMemorySource):
    """Interactions from the columns of a pandas or polars DataFrame (or a mapping of columns).

    A missing column is an error listing the frame's columns; ids keep their type (integers or
    strings); date-time timestamps become Unix seconds.
    """

    name = "dataframe"
    Config = DataFrameConfig
    config: DataFrameConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Return the frame's columns as interactions.

        Raises
        ------
        DataError
            If the frame can't be found, is not a table, or lacks a column.
        """
        frame = self._object()
        with _reading(self._where()):  # the frame's own code runs as its columns are read
            names = _column_names(frame)
            if names is None:
                msg = (
                    f"{self._where()}: expected a pandas or polars DataFrame (or a mapping of columns); "
                    f"got {type(frame).__name__}"
                )
                raise DataError(msg)
            return self._from_columns(frame, names)


class ArraysConfig(ObjectConfig):
    """Parameters of :class:`ArraysDataSource`."""

    path: Path | None = None
    """A ``.npz`` file: arrays saved with ``numpy.savez`` under the names set below, or a users
    x items matrix saved with ``scipy.sparse.save_npz`` (row and column
    positions become the ids, stored entries the values). Read without unpickling anything.
    Instead, ``object`` may name a tuple ``(users, items[, values[, timestamps]])``, a mapping
    of arrays, a numpy structured array or a scipy sparse matrix."""

    def model_post_init(self, context: Any, /) -> None:
        """Refuse ``path`` and ``object`` together: which one to read would be a guess."""
        if self.path is not None and self.object is not None:
            msg = "set data.path or data.object, not both"
            raise ValueError(msg)

    max_decompressed_mb: PositiveInt | None = None
    """For ``path``: the most megabytes (MiB) its arrays may take once decompressed; each
    array's size is read from its header before anything is decompressed. Unset, an archive
    expanding more than 200-fold beyond 64 MiB is refused as a decompression bomb (as for a
    compressed ``csv``); setting it lifts that check."""


class ArraysDataSource(_InMemorySource):
    """Interactions from numpy arrays, a scipy sparse matrix, or a ``.npz`` file of either."""

    name = "arrays"
    Config = ArraysConfig
    config: ArraysConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Return the arrays as interactions.

        Raises
        ------
        DataError
            If the file or object can't be read, or an array is missing or malformed.
        """
        if self._given is None and self.config.path is not None:
            return self._npz(Path(self.config.path))
        data = self._object()
        with _reading(self._where()):  # the object's own code runs as its arrays are read
            if sp.issparse(data) or isinstance(data, Interactions | tuple):
                try:
                    return Interactions.from_any(data)
                except (DataError, TypeError) as exc:
                    msg = f"{self._where()}: {exc}"
                    raise DataError(msg) from exc
            names = _column_names(data)
            if names is None:
                msg = (
                    f"{self._where()}: expected a tuple of arrays, a mapping of arrays, a structured array "
                    f"or a scipy sparse matrix; got {type(data).__name__}"
                )
                raise DataError(msg)
            return self._named_arrays(data, names)

    def _named_arrays(self, data: object, names: list[str], where: str | None = None) -> Interactions:
        """Read named arrays; without a ``rating`` array, one named ``value`` holds the values."""
        config = self.config
        if config.rating is None and "rating" not in names and "value" in names:
            config = config.model_copy(update={"rating": "value"})
        return self._from_columns(data, names, config=config, where=where)

    def _npz(self, path: Path) -> Interactions:
        """Read a ``.npz`` file of named arrays or of a scipy sparse matrix, never unpickling."""
        readable_path(path, "data.path")  # a FIFO or a device would block or read as empty
        try:
            _check_npz_size(path, self.config.max_decompressed_mb)
            with np.load(path, allow_pickle=False) as archive:
                if "format" in archive.files and "shape" in archive.files:
                    matrix: Any = sp.load_npz(path)
                    return Interactions.from_any(matrix)
                arrays = {name: archive[name] for name in archive.files}
        except FileNotFoundError:
            msg = f"{path}: file not found (data.path)"
            raise DataError(msg) from None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            hint = "; save text ids as a string array (dtype str), not objects" if "allow_pickle" in str(exc) else ""
            msg = f"{path}: can't read it as a .npz file of arrays: {short_text(str(exc))}{hint} (data.path)"
            raise DataError(msg) from exc
        return self._named_arrays(arrays, list(arrays), where=str(path))


def _check_npz_size(path: Path, max_mb: int | None) -> None:
    """Refuse a ``.npz`` archive whose arrays would take too much memory, before decompressing it.

    Each ``.npy`` member's header (its first bytes) gives the array's shape and dtype, so its
    size is known up front; a member that is not an array counts with its declared size. With
    `max_mb` the total must stay under it; without, an archive expanding more than
    :data:`~recframe.builtin.data_sources.text_files.MAX_RATIO`-fold beyond
    :data:`~recframe.builtin.data_sources.text_files.RATIO_FROM_BYTES` is a decompression bomb.
    """
    total = packed = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            size = info.file_size
            if info.filename.endswith(".npy"):
                with archive.open(info) as member, contextlib.suppress(ValueError):  # numpy says what's wrong
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else (np.lib.format.read_array_header_2_0)
                    )
                    shape, _, dtype = read(member)
                    size = max(size, int(np.prod(shape, dtype=object)) * dtype.itemsize)
            total += size
            packed += info.compress_size
    if max_mb is not None:
        if total > max_mb * 2**20:
            msg = (
                f"{path}: its arrays take {total:,} bytes once decompressed, more than data.max_decompressed_mb "
                f"({max_mb:,} MB) (data.path)"
            )
            raise DataError(msg)
    elif total > RATIO_FROM_BYTES and total > MAX_RATIO * max(packed, 1):
        msg = (
            f"{path}: its arrays would take {total:,} bytes, {total // max(packed, 1):,} times the {packed:,} "
            "compressed bytes, as a decompression bomb does (data.path); set data.max_decompressed_mb to read "
            "it anyway"
        )
        raise DataError(msg)
