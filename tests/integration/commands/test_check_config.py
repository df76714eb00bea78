"""`python -m bot check-config`, and `serve` refusing a bad config with the same messages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import EXAMPLE_CONFIG


def _broken_copy(tmp_path: Path) -> tuple[Path, list[str]]:
    """The example with two mistakes, each on a line of its own; the lines check-config prints."""
    lines = EXAMPLE_CONFIG.read_text(encoding="utf-8").splitlines(keepends=True)

    def replace_after(anchor: str, old: str, new: str) -> int:
        start = next(i for i, line in enumerate(lines) if line.strip() == anchor)
        at = next(i for i in range(start, len(lines)) if old in lines[i])
        lines[at] = lines[at].replace(old, new)
        return at + 1  # 1-based, as editors count

    role_line = replace_after(
        "- id: handle", "assignee: {department_head: complaint}", "assignee: {role: 产品不}"
    )
    limit_line = replace_after("- id: followup", "time_limit: 24h", "time_limit: 24小时")
    path = tmp_path / "broken.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, [
        f"{path}:{role_line}: flows.complaint.steps[2].assignee: unknown role '产品不'",
        f"{path}:{limit_line}: flows.complaint.steps[5].time_limit: invalid time_limit: "
        "'24小时' is not a duration: write one like 30m, 2h, 1d, 1d12h, 90s or 1w",
    ]


def test_the_example_config_is_ok(capsys: pytest.CaptureFixture[str]):
    assert main(["check-config", str(EXAMPLE_CONFIG)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{EXAMPLE_CONFIG}: OK (7 people, 6 departments, 1 form(s), 1 flow(s), 7 rule(s), "
        "4 channel(s))"
    ]
    assert err == ""


def test_a_broken_config_lists_every_problem_with_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path, expected = _broken_copy(tmp_path)
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*expected, f"2 problem(s) in {path}"]


def test_check_config_reads_bot_config_when_no_file_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    path, expected = _broken_copy(tmp_path)
    monkeypatch.setenv("BOT_CONFIG", str(path))
    assert main(["check-config"]) == 1
    assert capsys.readouterr().err.splitlines()[:2] == expected


def test_a_missing_file_is_one_problem_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    missing = tmp_path / "nowhere.yaml"
    assert main(["check-config", str(missing)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"{missing}: (top level): cannot read the file")


def test_serve_refuses_to_start_on_a_broken_config_with_the_same_messages(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    path, expected = _broken_copy(tmp_path)
    # Were the config accepted, two workers on SQLite would be refused (exit 2) before anything
    # listens or migrates: the test can fail without starting a server.
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    caplog.set_level(logging.INFO)
    argv = ["serve", "--config", str(path), "--workers", "2", "--no-migrate"]
    assert main(argv) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [*expected, f"refusing to start: 2 problem(s) in {path}"]
    assert not (tmp_path / "never.db").exists()
    assert capsys.readouterr().out == ""
