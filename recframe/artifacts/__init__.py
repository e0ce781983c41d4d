"""Saved models on disk: a folder of ``manifest.json`` and ``.npy`` arrays, no pickle, checksummed.

:mod:`recframe.artifacts.model_files` writes and reads the folder (atomic rename, sha256 per
file, arrays memory-mapped read-only); :mod:`recframe.artifacts.manifest` is what the manifest
says (format version, components with their plugin and version, encoded state). The
:class:`~recframe.recommender.Recommender` uses both in ``save`` and ``load``; the format is
described in docs/serving.md. :func:`~recframe.artifacts.model_lock.model_lock` makes the
load-change-save cycles of one folder (``recframe update``, ``recframe forget``, the service's
saves) run one after the other.
"""

from __future__ import annotations

from recframe.artifacts.manifest import FORMAT_VERSION, ModelVersionWarning, TemplatesLeftOutWarning, read_manifest
from recframe.artifacts.model_files import (
    FORMAT_NAME,
    MANIFEST,
    ModelFileError,
    check_not_a_link,
    check_replaceable,
    is_model_folder,
    listed_files,
    model_in,
    process_umask,
)
from recframe.artifacts.model_lock import ModelFolderBusyError, model_lock

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "ModelFileError",
    "ModelFolderBusyError",
    "ModelVersionWarning",
    "TemplatesLeftOutWarning",
    "check_not_a_link",
    "check_replaceable",
    "is_model_folder",
    "listed_files",
    "model_in",
    "model_lock",
    "process_umask",
    "read_manifest",
]
