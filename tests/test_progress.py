"""Progress bars: on a terminal only, forced on or off by the caller, never under --quiet."""

from __future__ import annotations

from recframe.progress import progress, show_progress


def test_bar_is_drawn_when_forced_on(capsys):
    with show_progress(True):
        assert list(progress(range(3), total=30, desc="scoring", unit="users", sizes=[10, 10, 10])) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "scoring: 100% |########################| 30/30 users" in err and err.endswith("\n")


def test_nothing_is_drawn_when_off_or_not_a_terminal(capsys):
    with show_progress(False):
        list(progress(range(3), total=3, desc="x"))
    list(progress(range(3), total=3, desc="x"))  # automatic: captured stderr is no terminal
    assert capsys.readouterr().err == ""


def test_quiet_run_prints_no_bar_or_log(tmp_path, capsys):
    from recframe.cli import main

    config = tmp_path / "c.yaml"
    config.write_text("data: {type: synthetic, n_users: 60, n_items: 30}\n", encoding="utf-8")
    with show_progress(True):  # even where bars would be shown, --quiet wins
        assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
