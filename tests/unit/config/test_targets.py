"""The targets: section: checked with precise messages; the first matching entry applies."""

from __future__ import annotations

import pytest

from bot.config.loader import load_config_text
from bot.config.targets import TargetConfig
from bot.errors import ConfigError
from bot.service.targets import matching_target
from tests.unit.config.test_loader import TEXT


def _problems(targets: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(TEXT + "\ntargets:\n" + targets, source="t.yaml", environ={})
    return {".".join(map(str, p)): m for _line, p, m in caught.value.problems}


def test_a_valid_section_loads() -> None:
    config = load_config_text(
        TEXT + '\ntargets:\n  - {name: 质量, if: 投诉类型 == "产品质量", first_response: 2h}\n'
        "  - {name: 一般, resolution: 3d}\n",
        environ={},
    )
    assert [t.name for t in config.targets] == ["质量", "一般"]


def test_each_mistake_is_named() -> None:
    problems = _problems(
        "  - {name: 一般, first_response: 4h}\n"  # catch-all first: the rest never apply
        "  - {name: 质量, if: 投诉类型型 == 1, first_response: 2hours}\n"
        '  - {name: 质量, if: priority == "urgent"}\n'
    )
    assert "move it to the end" in problems["targets.0"]
    assert "投诉类型型" in problems["targets.1.if"]
    assert "unknown unit 'hours'" in problems["targets.1.first_response"]
    assert problems["targets.2.name"] == "duplicate target name '质量'"
    assert "first_response, resolution or both" in problems["targets.2"]


def test_the_first_matching_entry_applies() -> None:
    targets = (
        TargetConfig.model_validate({"name": "质量", "if": '投诉类型 == "产品质量"'}),
        TargetConfig.model_validate({"name": "加急", "if": 'priority == "urgent"'}),
        TargetConfig.model_validate({"name": "一般"}),
    )
    pick = lambda **env: matching_target(targets, env).name  # noqa: E731
    assert pick(投诉类型="产品质量", priority="urgent") == "质量"
    assert pick(投诉类型="物流问题", priority="urgent") == "加急"
    assert pick(投诉类型="物流问题", priority="normal") == "一般"
    assert matching_target(targets[:2], {"投诉类型": "其他", "priority": "normal"}) is None
