"""A sweep's progress: each finished setting kept beside the output folder until the sweep is done.

An interrupted sweep is resumed from there (``recframe run --resume``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from recframe.config import RunConfig
from recframe.errors import ConfigError, DataError, RecframeError, path_text
from recframe.jsonio import read_json
from recframe.results import EvaluationResult
from recframe.runner.files import CONFIG, SETTINGS_DIR
from recframe.runner.folder import _write_file
from recframe.runner.sweep import SweepRow
from recframe.runner.sweep_resume import PARTIAL_ORIGIN, kept_for_other_run_file, result_from_json, result_to_json

logger = logging.getLogger(__name__)


PARTIAL_DEFINITION = "sweep.yaml"
RESULT = "result.json"


def partial_dir(output_dir: Path) -> Path:
    """Return where a sweep writing to `output_dir` keeps its finished settings until it is done.

    That is ``.<name>.partial`` beside the output folder, so an interrupted sweep never
    touches the output folder (nor an earlier run in it).
    """
    resolved = output_dir.resolve()
    return resolved.parent / f".{resolved.name or 'run'}.partial"


def _start_partial(partial: Path, definition: str, origin: str = "") -> list[Path]:
    """Create `partial` holding the sweep's resolved run file and `origin`; return the parent folders created."""
    created = [folder for folder in partial.parents if not folder.exists()]
    staging = partial.parent / f"{partial.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        staging.mkdir(parents=True)
        _write_file(staging / PARTIAL_DEFINITION, definition)
        if origin:
            _write_file(staging / PARTIAL_ORIGIN, origin)
        staging.rename(partial)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        msg = f"{partial}: can't keep the sweep's progress there: {exc.strerror or exc}"
        raise RecframeError(msg) from exc
    return created


def _keep_setting(partial: Path, row: SweepRow, width: int) -> None:
    """Write one finished setting into ``partial/settings/NN`` all at once."""
    name = f"{row.number:0{width}d}"
    folder = partial / SETTINGS_DIR / name
    staging = partial / SETTINGS_DIR / f".{name}.tmp"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _write_file(staging / CONFIG, row.config.to_yaml())
        _write_file(staging / RESULT, result_to_json(row.result))
        if folder.is_symlink() or folder.is_file():  # not a folder recframe kept: the link goes, not its target
            folder.unlink()
        elif folder.exists():  # a setting whose stored result could not be read, evaluated again
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        msg = f"{folder}: can't keep the finished setting: {exc.strerror or exc}"
        raise RecframeError(msg) from exc


def _resumable_settings(partial: Path, config: RunConfig, width: int) -> dict[int, EvaluationResult]:
    """Return the finished settings kept in `partial`, after checking they belong to this sweep.

    Raises
    ------
    ConfigError
        If the sweep's run file (or a setting's resolved config) changed since it was interrupted.
    """
    assert config.sweep is not None
    try:
        stored = (partial / PARTIAL_DEFINITION).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = (
            f"{partial}: not an interrupted sweep recframe kept (no readable {PARTIAL_DEFINITION}); "
            f"remove it to start again"
        )
        raise ConfigError(msg) from exc
    other = kept_for_other_run_file(partial, config)
    if other is not None and stored != config.to_yaml():
        msg = (
            f"{partial}: the interrupted sweep kept there is of another run file, {path_text(other)}, that "
            f"writes to the same output folder; finish it with --resume on that run file, give "
            f"{path_text(config.source)} another --output, or remove that folder to start again"
        )
        raise ConfigError(msg)
    _same_definition(partial / PARTIAL_DEFINITION, stored, config.to_yaml(), partial)
    done: dict[int, EvaluationResult] = {}
    for number, (_, setting) in enumerate(config.sweep.settings, start=1):
        folder = partial / SETTINGS_DIR / f"{number:0{width}d}"
        if folder.is_symlink():
            logger.warning("%s: is a link, not a setting recframe kept; evaluating it again", folder)
            continue
        if not (folder / RESULT).is_file():
            continue
        try:
            stored_setting = (folder / CONFIG).read_text(encoding="utf-8")
            result = result_from_json(read_json(folder / RESULT, what="kept result", expect=dict))
        except (OSError, UnicodeDecodeError, ValueError, DataError) as exc:
            logger.warning("%s: can't read the kept setting (%s); evaluating it again", folder, exc)
            continue
        _same_definition(folder / CONFIG, stored_setting, setting.to_yaml(), partial)
        done[number] = result
    return done


def _without_executor(text: str) -> str:
    """Return a resolved run file without its ``executor`` section: where work runs changes no result."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        inside = line.startswith("executor:") or (inside and line.startswith((" ", "-")))
        if not inside:
            kept.append(line)
    return "".join(kept)


def _same_definition(path: Path, stored: str, current: str, partial: Path) -> None:
    """Raise a ConfigError naming the first line where the kept run file differs from the current one.

    The executor may differ (an interrupted sweep on a cluster can be finished on this machine):
    it decides where the work runs, never what it gives.
    """
    stored, current = _without_executor(stored), _without_executor(current)
    if stored == current:
        return
    old, new = stored.splitlines(), current.splitlines()
    line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    was = old[line] if line < len(old) else "(end of file)"
    now = new[line] if line < len(new) else "(end of file)"
    msg = (
        f"{path}:{line + 1}: the sweep changed since it was interrupted: it was {was.strip()!r}, now "
        f"{now.strip()!r}; undo the change to resume it, or remove {partial} to start again"
    )
    raise ConfigError(msg)


def _remove_partial(partial: Path, created: Sequence[Path] = ()) -> None:
    """Remove a sweep's progress folder: only what recframe keeps there, then the emptied folders."""
    settings = partial / SETTINGS_DIR
    if settings.is_dir() and not settings.is_symlink():
        for folder in settings.iterdir():
            if folder.name.startswith(".") and folder.name.endswith(".tmp") and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.is_dir() and not folder.is_symlink():
                for name in (CONFIG, RESULT):
                    (folder / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
        with contextlib.suppress(OSError):
            settings.rmdir()
    (partial / PARTIAL_DEFINITION).unlink(missing_ok=True)
    (partial / PARTIAL_ORIGIN).unlink(missing_ok=True)
    try:
        partial.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("%s: kept, as it holds files recframe did not write", partial)
        return
    for folder in created:  # nearest first
        try:
            folder.rmdir()
        except OSError:
            break
