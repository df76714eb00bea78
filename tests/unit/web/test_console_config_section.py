"""The config's `console:` section: accounts checked at load time with file, line and path."""

from __future__ import annotations

import pytest

from bot.config.loader import load_config, load_config_text
from bot.errors import ConfigError
from bot.web.console_session import hash_password
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")
HASH = hash_password("pw", n=2**4)


def test_no_console_section_means_no_accounts_and_12_hour_sessions():
    console = load_config(EXAMPLE_CONFIG).console
    assert console.accounts == [] and console.session_hours == 12


def test_accounts_load_with_their_person():
    config = load_config_text(
        EXAMPLE + f"\nconsole:\n  session_hours: 8\n  accounts:\n"
        f'    - {{name: 张三, person: zhangsan, password_hash: "{HASH}"}}\n'
    )
    assert config.console.session_hours == 8
    assert [(a.name, a.person) for a in config.console.accounts] == [("张三", "zhangsan")]


def test_duplicate_names_and_unknown_people_are_reported_with_lines():
    text = EXAMPLE + (
        "\nconsole:\n  accounts:\n"
        f'    - {{name: admin, password_hash: "{HASH}"}}\n'
        f'    - {{name: admin, person: nobody, password_hash: "{HASH}"}}\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="bot.yaml")
    lines = caught.value.lines()
    last = text.count("\n")
    assert f"bot.yaml:{last}: console.accounts[1].name: duplicate account 'admin'" in lines
    assert f"bot.yaml:{last}: console.accounts[1].person: unknown person 'nobody'" in lines


@pytest.mark.parametrize("hours", [0, -1, 10_000])
def test_session_hours_must_be_sensible(hours: float):
    with pytest.raises(ConfigError, match="session_hours"):
        load_config_text(EXAMPLE + f"\nconsole:\n  session_hours: {hours}\n")
