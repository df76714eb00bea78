"""WeChat end to end (both databases): encrypted callbacks drive a complaint from the first
message to the survey, and the fake WeChat shows exactly what the customer saw, in order.

The whole service runs (create_app, the WeChat channel on, api_base at the fake); callbacks are
built the way WeChat builds them (signed, AES-encrypted); the outbox relay is driven by hand;
staff act through ComplaintService as the people of the example directory.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.conversation import expired_message
from bot.workflow import ActionKind
from storage.models import Complaint, Conversation, Customer, SurveyAnswer
from tests.integration.channels.wechat_oa.shop_harness import (
    OPENID,
    PUBLIC_URL,
    Shop,
)

NUMBER = "TS20261123-0001"
DESCRIPTION = "你们的快递把我的东西弄坏了"
ASK_PHONE = "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您"
ASK_CUSTOMER_NO = "请输入客户编号（可回复“跳过”）"
ASK_TYPE = "请选择投诉类型：\n1. 产品质量\n2. 服务态度\n3. 物流问题\n4. 其他\n（回复序号或名称）"
ASK_ORDER = "请输入订单号（可回复“跳过”）"
ASK_MEDIA = "请发送相关图片/视频（图片或视频，可发送多个，发完请回复“完成”）\n没有可回复“跳过”。"


async def _intake(shop: Shop) -> list[str]:
    """The first complaint, by chat, with a wrong phone and a 上一步; the replies seen."""
    replies = []
    for text in (
        DESCRIPTION,
        "王小明",
        "1391234",
        "13912345678",
        "上一步",
        "13912345678",
        "跳过",
        "物流问题",
        "123456789012",
        "跳过",
        "确认提交",
    ):
        replies.append(await shop.say(text))
    return replies


async def test_a_complaint_from_the_first_message_to_the_survey(shop: Shop):
    replies = await _intake(shop)
    # Free text first: kept as the description, so only what is missing is asked.
    assert replies[0] == (
        "您好，很抱歉给您带来不便，我们来登记您的投诉。随时回复“取消”可退出，回复“上一步”可返回。\n"
        "已记录您的问题描述。\n请输入客户姓名"
    )
    assert replies[1:10] == [
        ASK_PHONE,
        "手机号格式不正确，请输入11位手机号",  # the wrong phone, asked again
        ASK_CUSTOMER_NO,
        f"{ASK_PHONE}\n当前填写：13912345678",  # 上一步
        ASK_CUSTOMER_NO,
        ASK_TYPE,
        ASK_ORDER,
        ASK_MEDIA,
        "请确认您的投诉登记表信息：\n客户姓名：王小明\n联系电话：13912345678\n投诉类型：物流问题\n"
        f"订单号：123456789012\n问题描述：{DESCRIPTION}\n回复“确认提交”提交投诉，或回复“修改”更改内容。",
    ]
    assert not any("问题描述（" in r or "请输入问题描述" in r for r in replies)
    # The number at once, with the time within which we answer (the first step's limit).
    assert replies[10] == (
        f"您的投诉已提交，编号：{NUMBER}。我们会在2小时内联系您。回复“进度”或发送编号可随时查询处理进度。"
    )
    complaint = await shop.complaint(NUMBER)
    assert complaint.values["description"] == DESCRIPTION
    assert complaint.values["source"] == "微信公众号" and complaint.channel == "service"

    # Staff accept: the customer is told who took it; a reply reaches them as a custom message.
    await shop.act("xiaomei", ActionKind.ACCEPT, NUMBER)
    await shop.reply_to_customer("xiaomei", NUMBER, "已联系物流部核实，请您稍候")
    # Two days later the 48 h window is closed: the reply goes out as a template message.
    shop.clock.advance(hours=49)
    await shop.reply_to_customer("xiaomei", NUMBER, "物流部已确认破损，将为您补发")
    assert ("system", "客户已超出48小时客服消息窗口，改用模板消息发送") in await shop.timeline(
        NUMBER
    )

    progress = await shop.say("进度")
    assert progress.splitlines() == [
        "您有 1 件处理中的投诉：",
        f"{NUMBER} 物流问题 · 处理中（客服受理）",
        "发送编号可查看详细进展。",
    ]
    story = await shop.say(NUMBER)
    assert story.splitlines() == [
        f"投诉 {NUMBER}：处理中（客服受理）",
        "11-23 14:00 您提交了投诉（微信公众号）",
        "11-23 14:00 进入「客服受理」",
        "11-23 14:00 小美受理了「客服受理」",
        "11-23 14:00 小美回复客户：已联系物流部核实，请您稍候",
        "11-25 15:00 小美回复客户：物流部已确认破损，将为您补发",
    ]

    # The flow runs to its end; closing it asks the customer for a score.
    await shop.act("xiaomei", ActionKind.SUBMIT, NUMBER)
    await shop.act("zhaoliu", ActionKind.ACCEPT, NUMBER)
    await shop.act("zhaoliu", ActionKind.SUBMIT, NUMBER, solution="补发新品", compensation=0)
    await shop.act("xiaomei", ActionKind.ACCEPT, NUMBER)
    await shop.act("xiaomei", ActionKind.SUBMIT, NUMBER)
    assert (await shop.complaint(NUMBER)).status == "closed"
    thanks = await shop.say("5 很满意")
    assert thanks == "感谢您的评价（★★★★★）！我们会继续改进。"
    # WeChat retries the same delivery: the same answer, nothing stored twice.
    again = await shop.phone.redeliver()
    assert again.text == thanks

    card = "点击查看进度，可补充信息或撤销投诉"
    assert [(m.via, m.msgtype, m.text.split("\n")[0]) for m in shop.seen()] == [
        *[("passive", "text", r.split("\n")[0]) for r in replies],
        ("custom", "news", f"投诉 {NUMBER}：待受理"),
        ("custom", "text", f"您的投诉 {NUMBER} 已由 小美 受理，我们会尽快处理。"),
        ("custom", "text", f"关于投诉 {NUMBER} 的回复：已联系物流部核实，请您稍候"),
        ("template", "template", f"first: 关于投诉 {NUMBER} 的回复：物流部已确认破损，将为您补发"),
        ("passive", "text", "您有 1 件处理中的投诉："),
        ("custom", "news", f"投诉 {NUMBER}：处理中"),
        ("passive", "text", f"投诉 {NUMBER}：处理中（客服受理）"),
        ("custom", "news", f"投诉 {NUMBER}：处理中"),
        (
            "custom",
            "text",
            f"您的投诉 {NUMBER} 已处理完毕。请为本次服务打分：回复 1-5（5 分最满意），"
            "也可以在分数后附上一句评价。",
        ),
        ("passive", "text", thanks),
        ("passive", "text", thanks),
    ]
    news = [m for m in shop.seen() if m.msgtype == "news"]
    assert all(card in m.text for m in news)
    article = news[0].payload["news"]["articles"][0]
    assert article["url"].startswith(f"{PUBLIC_URL}/c/")
    assert article["picurl"] == f"{PUBLIC_URL}/c/static/cover.png"

    async with shop.db.read() as session:
        answers = (await session.scalars(select(SurveyAnswer))).all()
    assert [(a.score, a.comment) for a in answers] == [(5, "很满意")]
    timeline = await shop.timeline(NUMBER)
    # survey.answered fired once: the rule listening to it ran once.
    assert timeline.count(("rule:评价后通知客服主管", f"通知 张三：客户评价了投诉 {NUMBER}")) == 1
    assert timeline.count(("customer", "评价 ★★★★★：很满意")) == 1


async def test_a_known_customer_is_not_asked_name_and_phone_again(shop: Shop):
    await _intake(shop)
    first = await shop.say("我要投诉")
    assert "客户姓名" not in first and "联系电话" not in first
    assert first.endswith(ASK_CUSTOMER_NO)
    asked = [first]
    for text in ("跳过", "服务态度", "客服电话一直打不通，等了一个小时", "跳过"):
        asked.append(await shop.say(text))
    assert asked[-1].startswith(
        "请确认您的投诉登记表信息：\n客户姓名：王小明\n联系电话：13912345678\n"
    )
    assert not any("请输入客户姓名" in a or "请输入联系电话" in a for a in asked)
    done = await shop.say("确认提交")
    assert done.startswith("您的投诉已提交，编号：TS20261123-0002。")
    async with shop.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
        second = await session.scalar(
            select(Complaint).where(Complaint.number == "TS20261123-0002")
        )
    assert second.values["customer_name"] == "王小明" and second.values["phone"] == "13912345678"


async def test_the_dialog_survives_a_restart(shop: Shop):
    assert (await shop.say(DESCRIPTION)).endswith("请输入客户姓名")
    assert await shop.say("王小明") == ASK_PHONE
    await shop.restart()  # a new app on the same database
    assert await shop.say("13912345678") == ASK_CUSTOMER_NO
    for text in ("跳过", "其他", "跳过"):
        await shop.say(text)
    assert (await shop.say("确认提交")).startswith(f"您的投诉已提交，编号：{NUMBER}。")
    complaint = await shop.complaint(NUMBER)
    assert complaint.values["customer_name"] == "王小明"
    assert complaint.values["description"] == DESCRIPTION


async def test_an_idle_dialog_expires_politely(shop: Shop):
    await shop.say(DESCRIPTION)
    await shop.say("王小明")
    shop.clock.advance(minutes=31)
    # The next message after the idle time ends the intake with the polite message.
    assert await shop.say("13912345678") == expired_message(timedelta(minutes=30))
    async with shop.db.read() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.user_id == OPENID)
        )
        complaints = await session.scalar(select(func.count()).select_from(Complaint))
    assert conversation.state["dialog"] is None and conversation.expires_at is None
    assert complaints == 0
    # A new intake starts from scratch, with no answers left over.
    assert (await shop.say("我要投诉")).endswith("请输入客户姓名")


async def test_menu_clicks_start_an_intake_and_answer_progress(shop: Shop):
    assert "请输入客户姓名" in await shop.click("COMPLAIN")
    assert await shop.say("取消") == "已取消本次投诉登记。如需投诉，请随时回复“投诉”。"
    assert await shop.click("PROGRESS") == "您目前没有处理中的投诉。如需投诉，请回复“投诉”。"
