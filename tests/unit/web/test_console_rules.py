"""Rules in plain Chinese on the config view."""

from __future__ import annotations

from bot.config.loader import load_config, load_config_text
from bot.web.console_rules import rule_text
from tests.conftest import EXAMPLE_CONFIG


def texts(config):
    labels = {f.key: f.label for form in config.forms.values() for f in form.fields}
    return {r.name: rule_text(r, config.directory, labels) for r in config.rules}


def test_example_rules_read_as_sentences():
    rules = texts(load_config(EXAMPLE_CONFIG))
    created = rules["新投诉通知客服主管"]
    assert created.when == "新投诉登记完成" and created.condition is None
    assert created.actions == (
        "通知 客服部负责人：「新投诉 {number}：{投诉类型}，客户 {客户姓名}」",
    )
    escalate = rules["部门处理超时升级管理层"]
    assert escalate.condition == 'step == "部门处理"'
    assert escalate.actions[0].startswith("升级通知 角色「管理层」")
    threshold = rules["产品质量投诉集中预警"]
    assert (
        threshold.when
        == '1天内满足「投诉类型 == "产品质量"」的投诉达到 5 起（按「订单号」分别计数）'
    )
    assert threshold.actions == (
        "通知 群「管理层群」：「24小时内同一订单/产品已收到 {count} 起质量投诉，请关注」",
    )
    assert rules["结案后邀请客户评价"].actions == ("邀请客户评价满意度",)


def test_webhook_addresses_show_only_their_host():
    head, _, tail = EXAMPLE_CONFIG.read_text(encoding="utf-8").partition("\ndigests:")
    extra = """  - name: 推送到质量系统
    when: complaint.closed
    then:
      - call_webhook: {url: "https://qms.example.com/hooks/abc?key=SECRET123", method: POST}
      - assign: {person: lisi}
"""
    config = load_config_text(f"{head}\n{extra}\ndigests:{tail}")
    actions = texts(config)["推送到质量系统"].actions
    assert actions == ("调用外部接口 POST qms.example.com", "转交给 李四")
