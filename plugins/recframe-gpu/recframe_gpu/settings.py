"""Where the GPU components run: the settings they share and how a device is chosen.

PyTorch is an optional dependency, imported only here and in :mod:`recframe_gpu.kernels`, and
only when a component is fitted or queried: without it the components still load, validate and,
with ``no_gpu: cpu``, run recframe's CPU engine.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from recframe import ComponentConfig, ConfigError, in_update

logger = logging.getLogger(__name__)

Device = Literal["cuda", "cpu", "auto"]
NoGPU = Literal["error", "cpu"]
Precision = Literal["float64", "float32"]
Kernel = Literal["spmm", "rows"]

CPU_ENGINE = "engine"
"""What :func:`resolve_device` returns for recframe's own CPU engine (no PyTorch kernels)."""


class DeviceSettings(ComponentConfig):
    """The settings every component of recframe-gpu has."""

    device: Device = "cuda"
    """Where the PyTorch kernels run: ``cuda`` (the current CUDA GPU), ``cpu`` (PyTorch on the
    CPU: the same lists, for tests and machines without a GPU) or ``auto`` (``cuda`` when a GPU
    is present, else ``cpu``)."""
    no_gpu: NoGPU = "error"
    """What ``device: cuda`` does on a machine without a usable GPU (or without PyTorch):
    ``error`` stops a fit with an error naming this setting; ``cpu`` logs a warning and runs
    recframe's CPU engine (the ``sparse`` backend's and ``item_cf``'s kernels: the same lists,
    but for the order or the choice among scores equal to rounding). A saved model loads
    either way: where its device can't be met, it answers with the CPU engine, with a warning,
    and its ``update`` and ``forget`` run there too (a data-protection ``forget`` must not wait
    for a GPU).
    (Not called ``fallback``: a ranker section's ``fallback`` names the rankers for users it
    can't serve.)"""
    precision: Precision = "float64"
    """How the matrices are stored on the device: ``float64`` gives the CPU engine's scores to
    rounding (1e-12) and its lists; ``float32`` halves their memory and traffic. The ``rows``
    kernel still adds in float64 (scores to about 1e-7); ``spmm`` then adds in float32, whose
    error grows with the number of shared columns (up to 3e-5 measured on the MovieLens-20M
    shape's most popular items), so lists can differ where scores are that close."""
    kernel: Kernel = "spmm"
    """How the products are computed on the device: ``spmm``, the sparse matrix times dense
    blocks of the query rows (cuSPARSE; ``nnz * n_queries`` multiply-adds); ``rows``, a Triton
    kernel adding each query row's products row by row (``sum_u deg(u)^2`` multiply-adds, far
    fewer on long-tailed data; CUDA only). Both give the same lists."""


def resolve_device(settings: DeviceSettings, component: str) -> str:
    """Return the torch device to run on (``"cuda"`` or ``"cpu"``), or :data:`CPU_ENGINE`; check ``kernel``.

    Parameters
    ----------
    settings : DeviceSettings
        The component's config.
    component : str
        How to name the component in messages, e.g. ``"similarity 'gpu'"``.

    Raises
    ------
    ConfigError
        If PyTorch is missing, or ``device: cuda`` finds no GPU, and ``no_gpu`` is ``error``; if
        ``kernel: rows`` lacks Triton or a CUDA device.
    """
    device = _device(settings, component)
    if settings.kernel == "rows" and device != CPU_ENGINE:
        try:
            import triton  # noqa: F401
        except ImportError as exc:
            msg = f"{component}: kernel 'rows' needs Triton, which is not installed ({exc}); set kernel: spmm"
            raise ConfigError(msg) from exc
        if device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            msg = f"{component}: kernel 'rows' runs on CUDA devices only, not on device 'cpu'; set kernel: spmm"
            raise ConfigError(msg)
    return device


def device_where_loaded(settings: DeviceSettings, component: str) -> str:
    """Return where a loaded model's component runs here: as :func:`resolve_device`, or recframe's CPU engine.

    A model fitted on a GPU machine is often served on one without a GPU (or without PyTorch).
    Its saved arrays are the same whatever the device, and recframe's CPU engine gives the same
    lists, so a load never fails for want of a device: where the component's settings can't
    be met here, it runs the CPU engine, with a warning naming the reason.
    """
    try:
        return resolve_device(settings, component)
    except ConfigError as exc:
        logger.warning("%s; this loaded model answers with recframe's CPU engine instead (the same lists)", exc)
        return CPU_ENGINE


def _device(settings: DeviceSettings, component: str) -> str:
    """Return where `settings` ask to run, as :func:`resolve_device` (without the kernel check)."""
    try:
        import torch
    except ImportError as exc:
        if settings.no_gpu == "cpu" or in_update():
            logger.warning("%s: PyTorch is not installed; running recframe's CPU engine (%s)", component, _why())
            return CPU_ENGINE
        msg = (
            f"{component}: device {settings.device!r} needs PyTorch, which is not installed ({exc}); "
            "pip install 'recframe-gpu[torch]', or set no_gpu: cpu to run recframe's CPU engine"
        )
        raise ConfigError(msg) from exc
    if settings.device == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if settings.device == "auto":
        logger.info("%s: no CUDA GPU is available; running the kernels on the CPU (device: auto)", component)
        return "cpu"
    built = "built without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
    if settings.no_gpu == "cpu" or in_update():
        logger.warning("%s: no CUDA GPU is available; running recframe's CPU engine (%s)", component, _why())
        return CPU_ENGINE
    msg = (
        f"{component}: device 'cuda' but no CUDA GPU is available (torch {torch.__version__}, {built}); "
        "set no_gpu: cpu to run recframe's CPU engine, or device: cpu or auto to run the kernels on the CPU"
    )
    raise ConfigError(msg)


def _why() -> str:
    """Say why the CPU engine runs where the device is missing: the setting, or an update of a model."""
    if in_update():
        return "an update or forget runs where the model answers, whatever no_gpu says"
    return "no_gpu: cpu"
