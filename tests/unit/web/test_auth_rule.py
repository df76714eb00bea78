"""The access rule's pieces (which paths are guarded, where sign-in may return to), the CLI."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.config.model import ConsoleAccount
from bot.web.auth import _is_guarded, account_entry, main, safe_next, wants_html
from bot.web.console_session import verify_password


@pytest.mark.parametrize(
    "path, guarded",
    [
        ("/console", True),
        ("/console/complaints/TS1", True),
        ("/playground", True),
        ("/playground/api/state", True),
        ("/api/v1/config/validate", True),
        ("/consoles", False),
        ("/api/v1/complaints", False),
        ("/callbacks/wecom/staff", False),
        ("/c/abc", False),
        ("/healthz", False),
        ("/metrics", False),
    ],
)
def test_which_paths_need_the_console_sign_in(path: str, guarded: bool):
    assert _is_guarded(path) is guarded


@pytest.mark.parametrize(
    "value, target",
    [
        ("/console/complaints?status=new", "/console/complaints?status=new"),
        ("/playground", "/playground"),
        (None, "/console"),
        ("", "/console"),
        ("//evil.example", "/console"),
        ("/\\evil.example", "/console"),
        ("https://evil.example/console", "/console"),
        ("/api/v1/complaints", "/console"),
        ("console", "/console"),
    ],
)
def test_after_sign_in_only_console_and_playground_pages(value, target):
    assert safe_next(value) == target


@pytest.mark.parametrize(
    "method, accept, html",
    [
        ("GET", "text/html,application/xhtml+xml", True),
        ("GET", "*/*", True),
        ("GET", "application/json", False),
        ("GET", "text/event-stream", False),
        ("POST", "text/html", False),
    ],
)
def test_people_get_the_sign_in_page_scripts_get_json(method, accept, html):
    request = make_mocked_request(method, "/console", headers={"Accept": accept})
    assert wants_html(request) is html


def test_cli_prints_an_entry_the_config_accepts(capsys: pytest.CaptureFixture[str]):
    answers = iter(["a long password", "a long password"])
    assert main(["张三", "--person", "zhangsan"], ask=lambda _prompt: next(answers)) == 0
    out = capsys.readouterr().out
    assert out.startswith("console:\n  accounts:\n")
    assert '- name: "张三"' in out and 'person: "zhangsan"' in out
    encoded = out.split('password_hash: "')[1].split('"')[0]
    assert verify_password("a long password", encoded)
    ConsoleAccount(name="张三", password_hash=encoded)


@pytest.mark.parametrize("answers", [["short", "short"], ["a long password", "another one!"]])
def test_cli_refuses_short_or_mismatched_passwords(answers, capsys: pytest.CaptureFixture[str]):
    given = iter(answers)
    assert main(["admin"], ask=lambda _prompt: next(given)) == 1
    assert capsys.readouterr().out == ""


def test_account_entry_quotes_names():
    entry = account_entry('a "quoted" name', "scrypt$x")
    assert 'name: "a \\"quoted\\" name"' in entry and "person" not in entry
