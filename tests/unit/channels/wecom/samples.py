"""Every neutral card shape the service produces, as WeCom tests use them."""

from __future__ import annotations

from bot.cards.model import Card, CardAction, CardEvent, CardField, CardOption, CardSelect

PEOPLE = (CardOption("lisi", "李四"), CardOption("wangwu", "王五"), CardOption("zhaoliu", "赵六"))
DEPARTMENTS = (CardOption("cs", "客服部"), CardOption("logistics", "物流部"))


def task_card(ref: str = "c-20241123-0001-accept-zhangsan", **changes: object) -> Card:
    """A task card with accept / transfer buttons only."""
    card = Card(
        ref=ref,
        kind="task",
        complaint_number="TS20241123-0001",
        title="快递破损投诉 TS20241123-0001",
        badge="待受理",
        badge_tone="warning",
        fields=(
            CardField("客户姓名", "王先生"),
            CardField("问题类型", "物流破损"),
            CardField("期望处理时间", "2024-11-24 18:00 之前务必回复客户并给出赔偿方案"),
        ),
        timeline=(
            CardEvent("11-23 14:05", "客户提交投诉"),
            CardEvent("11-23 14:06", "系统派单给 张三"),
        ),
        actions=(
            CardAction("accept", "受理", "primary"),
            CardAction("transfer", "转交"),
        ),
    )
    return _replace(card, **changes)


def assignee_card() -> Card:
    """A task card whose transfer needs an assignee (one select)."""
    select = CardSelect("assignee", "转交给", PEOPLE, selected="wangwu", for_actions=("transfer",))
    return _replace(task_card("c-20241123-0001-transfer-zhangsan"), selects=(select,))


def two_select_card() -> Card:
    """A card choosing both an assignee and a department."""
    return _replace(
        task_card("c-20241123-0001-assign-zhangsan"),
        selects=(
            CardSelect("assignee", "处理人", PEOPLE, for_actions=("transfer",)),
            CardSelect("department", "部门", DEPARTMENTS, for_actions=("transfer",)),
        ),
    )


def escalation_card() -> Card:
    """The supervisor's escalation card: 催办 / 改派 / 接手 / 延期."""
    return Card(
        ref="e-20241123-0001-s2-boss",
        kind="escalation",
        complaint_number="TS20241123-0001",
        title="超时升级 TS20241123-0001",
        badge="已超时 2 小时",
        badge_tone="danger",
        subtitle="当前步骤：客服受理（张三）",
        fields=(CardField("客户", "王先生"), CardField("超时", "2 小时")),
        actions=(
            CardAction("urge", "催办", "primary"),
            CardAction("reassign", "改派"),
            CardAction("take_over", "接手"),
            CardAction("extend", "延期", "danger"),
        ),
        selects=(CardSelect("assignee", "改派给", PEOPLE, for_actions=("reassign",)),),
    )


def settled_card() -> Card:
    """The task card once accepted: outcome shown, no controls."""
    return task_card().settle("已由 张三 受理 · 11-23 14:05")


def notice_card() -> Card:
    """A card telling this viewer why their click was refused."""
    return task_card().with_notice("该投诉已由 李四 受理，无需重复操作")


ALL_SHAPES = {
    "buttons": task_card,
    "assignee select": assignee_card,
    "two selects": two_select_card,
    "escalation": escalation_card,
    "settled": settled_card,
    "notice": notice_card,
}


def _replace(card: Card, **changes: object) -> Card:
    from dataclasses import replace

    return replace(card, **changes)  # type: ignore[arg-type]
