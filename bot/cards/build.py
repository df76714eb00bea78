"""Build neutral cards from a complaint snapshot and what the viewer may do (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from bot.cards.model import (
    Card,
    CardAction,
    CardEvent,
    CardField,
    CardInput,
    CardOption,
    CardSelect,
)
from bot.domain.complaint import STATUS_TONES, ComplaintView, short_time

# Button text and style per workflow action; the order here is the order on the card.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "accept": ("受理", "primary"),
    "submit": ("提交", "primary"),
    "approve": ("同意", "primary"),
    "reject": ("驳回", "danger"),
    "transfer": ("转派", "default"),
    "assign_department": ("转部门", "default"),
    "remind": ("催办", "primary"),
    "reassign": ("改派", "default"),
    "take_over": ("接手", "default"),
    "extend": ("延期", "default"),
    "close": ("结案", "default"),
    "reopen": ("重新打开", "default"),
    # Card-only actions (CARD_ONLY_ACTIONS): handled by the staff desk, not the workflow engine.
    "wait_customer": ("等待客户补充", "default"),
    "reply_customer": ("回复客户", "default"),
    "comment": ("评论", "default"),
}

# What the timeline says an action did, for the card's outcome line ("已由 张三 受理").
ACTION_VERBS: dict[str, str] = {
    "accept": "受理",
    "submit": "提交",
    "approve": "同意",
    "reject": "驳回",
    "transfer": "转派",
    "assign_department": "转部门",
    "remind": "催办",
    "reassign": "改派",
    "take_over": "接手",
    "extend": "延期",
    "close": "结案",
    "reopen": "重新打开",
    "comment": "评论",
    "cancel": "撤销",
    "wait_customer": "请客户补充",
    "reply_customer": "回复客户",
}

TIMELINE_LINES_ON_CARD = 4
# Actions that choose a person; they read the assignee select.
PERSON_CHOICE_ACTIONS = ("transfer", "reassign")
# Buttons that are not workflow actions: the staff desk carries them out (a comment, a reply to
# the customer, a paused clock while the customer is asked for more).
CARD_ONLY_ACTIONS = ("wait_customer", "reply_customer", "comment")
# Whoever works on a task (the card has workflow actions) may comment and reply to the customer;
# only the holder of an accepted task (who may submit) may stop the clock to ask the customer.
WORKER_ACTIONS = ("reply_customer", "comment")
HOLDER_ACTIONS = ("wait_customer",)
# The notes SlaService.pause / resume write on the timeline: the card reads the clock's state
# from them (the view carries no timer state). Entering a step ends a wait as well.
PAUSED_NOTE = "等待客户补充信息"
RESUMED_NOTE = "客户已补充信息"
STEP_ENTERED_NOTE = "进入「"
WAITING_BADGE = "等待客户补充"


def card_ref(channel: str, number: str, task_id: str, person: str) -> str:
    """A stable id for one person's card of one task: WeCom-safe ([a-z0-9-], well under 128 bytes).

    Stable, so re-sending the same card is recognised as a duplicate (WeCom 42014, DingTalk
    outTrackId) instead of a second card.
    """
    digest = hashlib.sha256(f"{channel}\n{number}\n{task_id}\n{person}".encode()).hexdigest()
    return f"cb-{digest[:32]}"


@dataclass(frozen=True)
class StepInfo:
    """The parts of a flow step a card needs."""

    id: str
    name: str
    read: Collection[str] | None  # field keys; None = every field
    write: Sequence[tuple[str, str, bool]] = ()  # (key, label, required)


@dataclass(frozen=True)
class PersonOption:
    id: str
    name: str
    department_name: str = ""


@dataclass(frozen=True)
class DepartmentOption:
    id: str
    name: str


def department_options_from_people(people: Sequence[PersonOption]) -> tuple[DepartmentOption, ...]:
    """The departments people work in, keyed by name (for callers that pass no departments).

    The staff desk resolves a chosen option by department id or name, so either works.
    """
    names = dict.fromkeys(p.department_name for p in people if p.department_name)
    return tuple(DepartmentOption(name, name) for name in names)


def _fields(view: ComplaintView, step: StepInfo | None) -> tuple[CardField, ...]:
    readable = None if step is None else step.read
    out = [
        CardField(v.label, v.text)
        for v in view.values
        if v.text and (readable is None or v.key in readable)
    ]
    if view.history_note:
        out.append(CardField("客户历史", view.history_note))
    return tuple(out)


def _timeline(view: ComplaintView, tz: tzinfo) -> tuple[CardEvent, ...]:
    lines = view.timeline[-TIMELINE_LINES_ON_CARD:]
    return tuple(CardEvent(short_time(t.at, tz), f"{t.actor} {t.summary}") for t in lines)


def waiting_on_customer(view: ComplaintView) -> bool:
    """Whether the clock is stopped for the customer: a pause after the last resume or step."""
    for line in reversed(view.timeline):
        if line.summary.startswith(PAUSED_NOTE):
            return True
        if line.summary.startswith((RESUMED_NOTE, STEP_ENTERED_NOTE)):
            return False
    return False


def _actions(actions: Sequence[str]) -> tuple[CardAction, ...]:
    present = [a for a in ACTION_LABELS if a in actions]
    return tuple(CardAction(a, *ACTION_LABELS[a]) for a in present)  # type: ignore[arg-type]


def _with_card_actions(actions: Sequence[str], *, waiting: bool) -> list[str]:
    """The workflow actions plus the card-only ones this viewer may use."""
    out = list(actions)
    if not out:
        return out  # a viewer who cannot work on the task only reads the card
    out.extend(WORKER_ACTIONS)
    if "submit" in out and not waiting:
        out.extend(HOLDER_ACTIONS)
    return out


def _controls(
    actions: Sequence[str],
    step: StepInfo | None,
    people: Sequence[PersonOption],
    viewer: str,
    departments: Sequence[DepartmentOption] = (),
    current_department: str = "",
) -> tuple[tuple[CardSelect, ...], tuple[CardInput, ...]]:
    selects: list[CardSelect] = []
    inputs: list[CardInput] = []
    choosers = tuple(a for a in PERSON_CHOICE_ACTIONS if a in actions)
    if choosers:
        options = tuple(
            CardOption(p.id, f"{p.name}（{p.department_name}）" if p.department_name else p.name)
            for p in people
            if p.id != viewer
        )
        selects.append(CardSelect("assignee", "转派给", options, for_actions=choosers))
    if "assign_department" in actions and departments:
        current = next((d.id for d in departments if d.name == current_department), None)
        selects.append(
            CardSelect(
                "department",
                "转到部门",
                tuple(CardOption(d.id, d.name) for d in departments),
                selected=current,
                for_actions=("assign_department",),
            )
        )
    if "submit" in actions and step is not None:
        inputs.extend(
            CardInput(key, label, required=required, for_actions=("submit",))
            for key, label, required in step.write
        )
    if "reject" in actions:
        inputs.append(
            CardInput("reason", "驳回理由", placeholder="请说明原因", for_actions=("reject",))
        )
    if "extend" in actions:
        inputs.append(
            CardInput("extend_by", "延期时长", True, "例如 4h、1d", for_actions=("extend",))
        )
        inputs.append(CardInput("reason", "延期原因", True, for_actions=("extend",)))
    if "wait_customer" in actions:
        inputs.append(
            CardInput(
                "question",
                "请客户补充什么",
                placeholder="例如：请提供订单截图（可不填）",
                for_actions=("wait_customer",),
            )
        )
    texts = tuple(a for a in ("reply_customer", "comment") if a in actions)
    if texts:
        inputs.append(
            CardInput(
                "comment",
                "回复客户 / 评论",
                placeholder="评论只给同事看；回复客户会发给客户",
                for_actions=texts,
            )
        )
    return tuple(selects), tuple(inputs)


def build_task_card(
    view: ComplaintView,
    *,
    ref: str,
    task_id: str,
    step: StepInfo | None,
    viewer: str,
    actions: Sequence[str],
    people: Sequence[PersonOption],
    tz: tzinfo,
    outcome: str | None = None,
    notice: str | None = None,
    departments: Sequence[DepartmentOption] | None = None,
) -> Card:
    """The card one person sees for one task; with an outcome it is settled (no controls).

    `departments` are the options of the 转部门 select (by default: the people's departments).
    """
    waiting = waiting_on_customer(view)
    actions = _with_card_actions(actions, waiting=waiting)
    if departments is None:
        departments = department_options_from_people(people)
    selects, inputs = _controls(actions, step, people, viewer, departments, view.department_name)
    subtitle = f"当前步骤：{view.step_name or '—'} · 处理人：{view.assignee_name or '待认领'}"
    badge = view.status_text
    tone = STATUS_TONES.get(view.status, "info")
    if waiting and view.status in ("new", "in_progress", "resolved"):
        badge, tone = WAITING_BADGE, "warning"
        subtitle += " · 计时已暂停"
    card = Card(
        ref=ref,
        kind="task",
        complaint_number=view.number,
        title=f"投诉 {view.number}" + (f" · {view.type}" if view.type else ""),
        badge=badge,
        badge_tone=tone,  # type: ignore[arg-type]
        subtitle=subtitle,
        fields=_fields(view, step),
        timeline=_timeline(view, tz),
        actions=_actions(actions),
        selects=selects,
        inputs=inputs,
        notice=notice,
        url=view.url,
        meta={"task_id": task_id, "step_id": step.id if step else ""},
    )
    return card.settle(outcome) if outcome else card


def build_escalation_card(
    view: ComplaintView,
    *,
    ref: str,
    task_id: str,
    viewer: str,
    actions: Sequence[str],
    people: Sequence[PersonOption],
    tz: tzinfo,
    message: str,
    outcome: str | None = None,
    notice: str | None = None,
    departments: Sequence[DepartmentOption] | None = None,
) -> Card:
    """What a supervisor gets when a step runs late: who holds it, how late, and what to do."""
    # Only the four supervision actions: the escalation asks a decision about who works on it;
    # commenting and replying to the customer stay on the task cards of those who work on it.
    actions = list(actions)
    if departments is None:
        departments = department_options_from_people(people)
    selects, inputs = _controls(actions, None, people, viewer, departments, view.department_name)
    fields = [
        CardField("当前步骤", view.step_name or "—"),
        CardField("处理人", view.assignee_name or "待认领"),
        CardField("处理部门", view.department_name or "—"),
    ]
    if view.overdue_by:
        fields.append(CardField("超时", view.overdue_by))
    fields.extend(
        CardField(v.label, v.text) for v in view.values if v.key in ("type", "description")
    )
    card = Card(
        ref=ref,
        kind="escalation",
        complaint_number=view.number,
        title=f"超时升级 · 投诉 {view.number}",
        badge="已超时",
        badge_tone="danger",
        subtitle=message,
        fields=tuple(fields),
        timeline=_timeline(view, tz),
        actions=_actions(actions),
        selects=selects,
        inputs=inputs,
        notice=notice,
        url=view.url,
        meta={"task_id": task_id, "step_id": view.step_id or ""},
    )
    return card.settle(outcome) if outcome else card


def outcome_line(actor_name: str, action: str, at_text: str) -> str:
    """已由 张三 受理 · 11-23 14:05"""
    return f"已由 {actor_name} {ACTION_VERBS.get(action, action)} · {at_text}"
