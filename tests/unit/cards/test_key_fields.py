"""Key fields on a task card: a step that may read one field shows that field and no other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.cards.build import StepInfo, build_task_card
from bot.cards.model import CardField
from bot.config.loader import load_config_text
from bot.domain.complaint import ComplaintView, ValueLine
from bot.service.card_desk import step_info
from bot.service.loaded import LoadedComplaint
from tests.fakes.configs import example_data

SHANGHAI = ZoneInfo("Asia/Shanghai")
VALUES = (
    ValueLine("customer_name", "客户姓名", "王小明"),
    ValueLine("phone", "联系电话", "13912345678"),
    ValueLine("type", "投诉类型", "产品质量"),
    ValueLine("description", "问题描述", "收到的保温杯有裂缝"),
    ValueLine("order_no", "订单号", "202611230001"),
)


def view() -> ComplaintView:
    return ComplaintView(
        number="TS20261123-0001",
        status="in_progress",
        type="产品质量",
        step_id="handle",
        step_name="部门处理",
        department_name="产品部",
        assignee_name="李四",
        customer_name="王小明",
        created_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        values=VALUES,
        timeline=(),
    )


def card_for(step: StepInfo | None) -> Any:
    return build_task_card(
        view(),
        ref="cb-test",
        task_id="handle.1",
        step=step,
        viewer="lisi",
        actions=["accept"],
        people=[],
        tz=SHANGHAI,
    )


def test_a_step_reading_one_field_shows_only_that_field() -> None:
    card = card_for(StepInfo(id="handle", name="部门处理", read={"type"}))
    assert card.fields == (CardField("投诉类型", "产品质量"),)


def test_a_step_reading_everything_shows_every_filled_field() -> None:
    card = card_for(StepInfo(id="handle", name="部门处理", read=None))
    assert [f.label for f in card.fields] == [v.label for v in VALUES]


def test_read_named_by_label_in_the_config_reaches_the_card() -> None:
    """`read: [投诉类型]` in YAML (a label) becomes the key the card filters on."""
    data = example_data()
    for step in data["flows"]["complaint"]["steps"]:
        if step["id"] == "handle":
            step["read"] = ["投诉类型"]
    config = load_config_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    flow = config.flows["complaint"]
    form = config.forms[flow.form]
    # step_info reads only the flow and the form of the loaded complaint.
    lc = LoadedComplaint(
        complaint=None,  # type: ignore[arg-type]
        instance=None,  # type: ignore[arg-type]
        flow=flow,
        form=form,
        values={},
        state=None,  # type: ignore[arg-type]
    )
    info = step_info(lc, "handle")
    assert info is not None and set(info.read or ()) == {"type"}
    assert card_for(info).fields == (CardField("投诉类型", "产品质量"),)
    # The step it did not restrict still shows everything.
    assert [f.label for f in card_for(step_info(lc, "accept")).fields] == [v.label for v in VALUES]
