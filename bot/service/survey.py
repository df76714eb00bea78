"""The satisfaction survey: asked when a complaint closes, answered once, in chat or on a page."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ActionRefused
from bot.service.runtime import Runtime
from storage.models import Conversation, Customer, SurveyAnswer

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange

SURVEY_QUESTION = (
    "您的投诉 {number} 已处理完毕。请为本次服务打分：回复 1-5（5 分最满意），"
    "也可以在分数后附上一句评价。"
)
SURVEY_THANKS = "感谢您的评价（{stars}）！我们会继续改进。"


def stars(score: int) -> str:
    return "★" * score + "☆" * (5 - score)


class SurveyDesk:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def ask(self, change: ComplaintChange) -> None:
        """Ask the customer for a score and remember which complaint their next answer rates."""
        c = change.complaint
        if c.customer_id is None:
            change.note("note", "无法邀请评价：该投诉没有关联的客户渠道", actor="system")
            return
        customer = await change.session.get(Customer, c.customer_id)
        if customer is None or not customer.external_id:
            return
        await mark_survey_pending(change.session, customer, c.number, now=change.now)
        change.notices.customer_later(change.lc, SURVEY_QUESTION.format(number=c.number))
        change.note("survey", "已邀请客户评价", actor="system")

    async def record(
        self,
        change: ComplaintChange,
        *,
        score: int,
        comment: str | None,
        channel: str,
    ) -> SurveyAnswer:
        """Store the answer once (a second answer is refused) and emit survey.answered."""
        c = change.complaint
        if not 1 <= score <= 5:
            raise ActionRefused("评分请在 1 到 5 之间")
        existing = await change.session.scalar(
            select(SurveyAnswer).where(SurveyAnswer.complaint_id == c.id)
        )
        if existing is not None:
            raise ActionRefused(f"投诉 {c.number} 已经评价过了，谢谢您")
        answer = SurveyAnswer(
            complaint_id=c.id,
            score=score,
            comment=comment or None,
            channel=channel,
            answered_at=change.now,
        )
        change.session.add(answer)
        if change.lc.form.field("satisfaction") is not None:
            await change._write_fields({"satisfaction": score}, actor="customer")
        change.note(
            "survey",
            f"评价 {stars(score)}" + (f"：{comment}" if comment else ""),
            actor="customer",
        )
        change.event("survey.answered", score=score)
        return answer


async def mark_survey_pending(
    session: AsyncSession, customer: Customer, number: str, *, now: datetime
) -> None:
    """Note on the customer's conversation that their next message may be a score for `number`."""
    row = await session.scalar(
        select(Conversation).where(
            Conversation.channel == customer.channel, Conversation.user_id == customer.external_id
        )
    )
    if row is None:
        row = Conversation(
            channel=customer.channel, user_id=customer.external_id, state={}, updated_at=now
        )
        session.add(row)
    row.state = {**(row.state or {}), "survey": number}
    row.updated_at = now
