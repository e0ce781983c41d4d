"""``object: module:name`` runs user code; what it does by accident must not pass for success.

A run file is trusted input like a Python script, but a user object that exits (``sys.exit``,
``exit``) or fails while importing becomes a DataError naming ``data.object``, so a run never
stops with exit code 0 having done nothing; Ctrl-C (``KeyboardInterrupt``) still interrupts.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import yaml

from recframe import DataError
from recframe.builtin.data_sources import ArraysDataSource, DataFrameDataSource
from recframe.cli import main


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write ``name.py`` into a fresh current directory, importable as a user's own module."""
    monkeypatch.chdir(tmp_path)
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("reference", ["builtins:exit", "builtins:quit", "sys:exit"])
@pytest.mark.parametrize("source", [DataFrameDataSource, ArraysDataSource])
def test_an_object_that_exits_is_a_data_error(source, reference):
    with pytest.raises(DataError, match=rf"data\.object: calling '{reference}' tried to exit \(sys\.exit\(\)\); "
                                        r"it must return the data"):
        source(object=reference).load(np.random.default_rng(0))


def test_exit_codes_and_import_time_exits_are_named(user_module):
    user_module("quits", """
        import sys
        def load():
            sys.exit(0)
    """)
    with pytest.raises(DataError, match=r"calling 'quits:load' tried to exit \(sys\.exit\(0\)\)"):
        DataFrameDataSource(object="quits:load").load(np.random.default_rng(0))
    user_module("quits_on_import", "raise SystemExit('bye')\n")
    with pytest.raises(DataError, match=r"data\.object: importing 'quits_on_import' for 'quits_on_import:x' tried to "
                                        r"exit \(sys\.exit\('bye'\)\)"):
        DataFrameDataSource(object="quits_on_import:x").load(np.random.default_rng(0))
    user_module("breaks_on_import", "1 / 0\n")
    with pytest.raises(DataError, match=r"importing 'breaks_on_import' for 'breaks_on_import:x' failed: "
                                        r"ZeroDivisionError"):
        ArraysDataSource(object="breaks_on_import:x").load(np.random.default_rng(0))


def test_an_object_whose_own_methods_exit_or_fail_is_a_data_error(user_module):
    """The object's code also runs while it is read (columns, items): guarded the same way."""
    user_module("sneaky_frames", """
        import sys

        class ExitingFrame(dict):
            def __getitem__(self, name):
                sys.exit(3)

        class BrokenFrame(dict):
            def __iter__(self):
                raise LookupError("no columns today")

        exiting = ExitingFrame(user=[1], item=[2])
        broken = BrokenFrame(user=[1], item=[2])
    """)
    with pytest.raises(DataError, match=r"data \(dataframe sneaky_frames:exiting\): reading the object tried to exit "
                                        r"\(sys\.exit\(3\)\)"):
        DataFrameDataSource(object="sneaky_frames:exiting").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"data \(arrays sneaky_frames:broken\): reading the object failed: "
                                        r"LookupError: no columns today"):
        ArraysDataSource(object="sneaky_frames:broken").load(np.random.default_rng(0))


def test_ctrl_c_in_user_code_still_interrupts(user_module):
    user_module("interrupted", """
        def load():
            raise KeyboardInterrupt
    """)
    with pytest.raises(KeyboardInterrupt):
        DataFrameDataSource(object="interrupted:load").load(np.random.default_rng(0))
    user_module("interrupted_reading", """
        class Frame(dict):
            def __getitem__(self, name):
                raise KeyboardInterrupt

        frame = Frame(user=[1], item=[2])
    """)
    with pytest.raises(KeyboardInterrupt):
        DataFrameDataSource(object="interrupted_reading:frame").load(np.random.default_rng(0))


def test_a_run_whose_object_exits_fails_with_the_data_error_code(tmp_path, capsys):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"name": "exits", "data": {"type": "dataframe", "object": "builtins:exit"}}))
    code = main(["run", str(run), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3
    assert "data.object: calling 'builtins:exit' tried to exit" in err
    assert not (tmp_path / "out" / "run.json").exists()
