"""Whole intake dialogs over the example form, with the state stored and reloaded at every step."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.conversation import Cancelled, Help, ProgressQuery, StartIntake, Submit
from bot.conversation.messages import (
    CANCELLED,
    CONFIRM_PROMPT,
    DIALOG_HELP,
    HELP,
    STUCK_HINT,
    WELCOME,
)
from tests.unit.conversation.chat import Chat
from tests.unit.forms.example import form_of

PHOTO = {"kind": "image", "attachment_id": "att-1"}


def test_happy_path_from_menu_click_to_submission() -> None:
    chat = Chat()
    turn = chat.send(kind="click", text="我要投诉")
    assert isinstance(turn.intent, StartIntake)
    assert turn.replies == (f"{WELCOME}\n请输入客户姓名",)
    assert chat.say("王小明") == "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您"
    assert chat.say("138 0000 0001") == "请输入客户编号（可回复“跳过”）"
    assert chat.say("C123456").startswith("请选择投诉类型：\n1. 产品质量")
    assert chat.say("3") == "请输入订单号（可回复“跳过”）"
    assert chat.say("123456789012") == "请输入问题描述（至少5个字）"
    assert chat.say("快递把我的东西弄坏了").startswith("请发送相关图片/视频")
    reply = chat.send(**PHOTO).replies[0]
    assert (
        reply == "已收到图片，已添加到“相关图片/视频”（共1个）。\n"
        "可继续发送相关图片/视频，发完请回复“完成”。"
    )
    assert chat.asking == "media"
    summary = chat.say("完成")
    assert summary == (
        "请确认您的投诉登记表信息：\n"
        "客户姓名：王小明\n"
        "联系电话：13800000001\n"
        "客户编号：C123456\n"
        "投诉类型：物流问题\n"
        "订单号：123456789012\n"
        "问题描述：快递把我的东西弄坏了\n"
        "相关图片/视频：图片 1 张\n"
        "回复“确认提交”提交投诉，或回复“修改”更改内容。"
    )
    turn = chat.send("确认提交")
    assert turn.state is None and turn.replies == ()
    assert turn.intent == Submit(
        values={
            "customer_name": "王小明",
            "phone": "13800000001",
            "customer_no": "C123456",
            "source": "微信公众号",
            "type": "物流问题",
            "order_no": "123456789012",
            "description": "快递把我的东西弄坏了",
            "media": [{"attachment_id": "att-1", "kind": "image"}],
            "complaint_date": date(2026, 11, 23),
            "current_status": "待受理",
        }
    )


def test_wrong_answers_are_re_asked_with_the_reason() -> None:
    chat = Chat(profile={"name": "王小明"})
    chat.send("投诉")
    assert chat.asking == "phone"
    assert chat.say("12345") == "手机号格式不正确，请输入11位手机号"
    assert chat.asking == "phone"
    chat.say("13800000001")
    chat.say("跳过")
    reply = chat.say("9")
    assert reply.startswith("没有第9项，请回复序号（1-4）或选项名称\n请选择投诉类型：\n1. 产品质量")
    chat.say("价格")
    assert chat.say("很贵").endswith(STUCK_HINT)
    assert chat.asking == "type"
    chat.say("服务态度")
    assert chat.asking == "description"  # the order number is hidden for 服务态度
    assert chat.say("差") == "问题描述至少需要5个字，请再详细说明一下"


def test_back_returns_to_the_previous_question_with_its_answer() -> None:
    chat = Chat()
    chat.send("投诉")
    assert chat.say("上一步") == "已经是第一个问题了。\n请输入客户姓名"
    chat.say("王小明")
    chat.say("13800000001")
    assert chat.say("上一步") == (
        "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您\n当前填写：13800000001"
    )
    assert chat.say("上一步") == "请输入客户姓名\n当前填写：王小明"
    chat.say("李雷")
    # The later answer is kept: the dialog goes on from the first open question.
    assert chat.asking == "customer_no"


def test_cancel_abandons_the_intake() -> None:
    chat = Chat()
    chat.send("我要投诉")
    chat.say("王小明")
    turn = chat.send("取消")
    assert turn == type(turn)(None, (CANCELLED,), Cancelled())


def test_free_text_first_is_kept_as_the_description() -> None:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    turn = chat.send("你们的快递把我的东西弄坏了")
    assert isinstance(turn.intent, StartIntake)
    assert "已记录您的问题描述。" in turn.replies[0]
    chat.say("跳过")
    chat.say("物流问题")
    chat.say("跳过")
    assert chat.asking == "media"
    summary = chat.say("跳过")
    assert "问题描述：你们的快递把我的东西弄坏了" in summary
    submitted = chat.send("确认提交").intent
    assert submitted.values["description"] == "你们的快递把我的东西弄坏了"


def test_complaint_words_around_the_story_are_dropped_from_the_description() -> None:
    chat = Chat()
    chat.send("我要投诉：快递员态度很差还骂人")
    assert chat.state.values["description"] == "快递员态度很差还骂人"
    chat = Chat()
    chat.send("我要投诉")
    assert "description" not in chat.state.values


def test_known_name_and_phone_are_not_asked() -> None:
    chat = Chat(profile={"name": "王小明", "phone": "+86 138 0000 0001", "customer_no": "C1234"})
    reply = chat.send("投诉").replies[0]
    assert reply.endswith(
        "请选择投诉类型：\n1. 产品质量\n2. 服务态度\n3. 物流问题\n4. 其他\n（回复序号或名称）"
    )
    assert chat.state.values["phone"] == "13800000001"


def test_edit_from_the_summary_by_menu_number() -> None:
    chat = _at_summary()
    menu = chat.say("修改")
    assert menu.startswith(
        "请回复要修改的项目序号或名称：\n1. 客户姓名（王小明）\n2. 联系电话（13800000001）"
    )
    assert chat.say("2").endswith("当前填写：13800000001")
    summary = chat.say("13900000002")
    assert "联系电话：13900000002" in summary and summary.endswith(CONFIRM_PROMPT)
    assert chat.send("确认提交").intent.values["phone"] == "13900000002"


def test_edit_by_name_can_change_what_is_asked() -> None:
    chat = _at_summary()
    assert chat.say("修改 投诉类型").startswith("请选择投诉类型")
    assert chat.say("物流问题") == "请输入订单号（可回复“跳过”）"  # newly visible, asked once
    summary = chat.say("123456789012")
    assert "订单号：123456789012" in summary
    chat.say("修改投诉类型")
    summary = chat.say("服务态度")
    assert "订单号" not in summary
    assert "order_no" not in chat.send("确认提交").intent.values


def test_edit_menu_rejects_unknown_items_and_back_returns_to_the_summary() -> None:
    chat = _at_summary()
    chat.say("修改")
    assert chat.say("颜色").startswith("没有“颜色”这个选项")
    assert chat.phase == "choosing_edit"
    assert chat.say("上一步").startswith("请确认您的投诉登记表信息")
    assert chat.say("修改 颜色").startswith("没有找到“颜色”。\n请回复要修改的项目")


def test_summary_waits_for_confirm_or_edit() -> None:
    chat = _at_summary()
    assert chat.say("嗯") == CONFIRM_PROMPT
    assert chat.phase == "confirming"


def test_required_questions_cannot_be_skipped_and_optional_ones_take_no() -> None:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    chat.send("投诉")
    assert (
        chat.say("没有")
        == "请选择投诉类型：\n1. 产品质量\n2. 服务态度\n3. 物流问题\n4. 其他\n（回复序号或名称）"
    )
    reply = chat.say("跳过")
    assert reply.startswith("“投诉类型”是必填项，不能跳过。\n请选择投诉类型")


def test_submit_words_while_questions_are_open_point_to_the_question() -> None:
    chat = Chat()
    chat.send("投诉")
    assert chat.say("确认提交") == "还有问题没有回答，请先回答：\n请输入客户姓名"


def test_help_and_start_inside_a_dialog_repeat_the_question() -> None:
    chat = Chat()
    chat.send("投诉")
    assert chat.say("帮助") == f"{DIALOG_HELP}\n请输入客户姓名"
    assert chat.say("我要投诉") == "您正在登记投诉，请继续回答：\n请输入客户姓名"


def test_progress_inside_a_dialog_is_handed_to_the_service_and_the_dialog_stays() -> None:
    chat = Chat()
    chat.send("投诉")
    turn = chat.send("进度")
    assert turn.intent == ProgressQuery(None) and turn.replies == ()
    assert chat.asking == "customer_name"


def test_images_voice_and_video_are_accepted() -> None:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    chat.send("投诉")
    # A photo sent early goes to the media field, and the open question is repeated.
    reply = chat.send(kind="image", media_id="m-1").replies[0]
    assert reply == "已收到图片，已添加到“相关图片/视频”（共1个）。\n请输入客户编号（可回复“跳过”）"
    chat.say("跳过")
    chat.say("2")
    # Voice with recognition answers a text question; the recording is kept too.
    voice = chat.send(
        kind="voice", attachment_id="v-1", recognition="客服说话很不客气，还挂我电话。"
    )
    assert chat.state.values["description"] == "客服说话很不客气，还挂我电话。"
    # The media field already holds the early photo, so it is not asked; more can still come.
    assert voice.replies[0].startswith("请确认")
    reply = chat.send(kind="video", attachment_id="vid-1").replies[0]
    assert reply == f"已收到视频，已添加到“相关图片/视频”（共2个）。\n{CONFIRM_PROMPT}"
    submitted = chat.send("确认提交").intent
    assert submitted.values["media"] == [
        {"media_id": "m-1", "kind": "image"},
        {"attachment_id": "vid-1", "kind": "video"},
    ]
    assert submitted.attachments == ({"attachment_id": "v-1", "kind": "voice"},)


def test_voice_without_recognition_asks_for_text() -> None:
    chat = Chat()
    chat.send("投诉")
    reply = chat.send(kind="voice", media_id="v-2").replies[0]
    assert reply == "抱歉，没能识别语音内容，请用文字回复。\n请输入客户姓名"
    assert chat.state.attachments == ({"media_id": "v-2", "kind": "voice"},)


def test_a_media_field_refuses_kinds_it_does_not_accept_but_keeps_them() -> None:
    chat = _at_media()
    reply = chat.send(kind="file", attachment_id="doc-1").replies[0]
    assert reply == "这里需要图片或视频，您发送的是文件"
    assert chat.state.attachments == ({"attachment_id": "doc-1", "kind": "file"},)
    assert chat.say("随便说说") == "请发送图片或视频"


def test_photo_before_any_dialog_starts_one() -> None:
    chat = Chat()
    turn = chat.send(kind="image", attachment_id="a-9")
    assert isinstance(turn.intent, StartIntake)
    assert chat.state.values["media"] == [{"attachment_id": "a-9", "kind": "image"}]


LOCATION_FORM = form_of(
    {"key": "place", "label": "发生地点", "type": "location", "required": True},
    {"key": "desc", "label": "问题描述", "type": "textarea", "required": True},
    {"key": "refund", "label": "是否需要退款", "type": "boolean"},
    {"key": "score", "label": "紧急程度", "type": "rating", "required": True},
    {"key": "amount", "label": "涉及金额", "type": "money", "visible_if": "refund"},
)


def test_location_messages_and_typed_addresses_fill_location_fields() -> None:
    chat = Chat(LOCATION_FORM)
    assert chat.send("投诉").replies[0].endswith("请发送发生地点（可发送位置，或直接输入地址）")
    shared = {"lat": 31.2304, "lng": 121.4737, "label": "人民广场"}
    assert chat.send(kind="location", location=shared).replies[0].startswith("请输入问题描述")
    assert chat.say("地铁站门口的店铺卖假货") == "是否需要退款？（回复“是”或“否”）（可回复“跳过”）"
    assert chat.say("没有").startswith("请为紧急程度打分")  # "没有" answers a yes/no question
    assert chat.state.values["refund"] is False
    assert chat.say("上一步").startswith("是否需要退款")
    assert chat.say("是").startswith("请为紧急程度打分")
    assert chat.say("★★★★").startswith("请输入涉及金额")
    summary = chat.say("1.2万")
    assert "发生地点：人民广场" in summary and "紧急程度：★★★★☆" in summary
    assert "涉及金额：¥12,000.00" in summary
    values = chat.send("确认提交").intent.values
    assert values["place"] == shared and values["amount"] == Decimal("12000.00")


def test_a_location_sent_to_another_question_fills_an_open_location_field() -> None:
    chat = Chat(LOCATION_FORM)
    chat.send("投诉")
    chat.say("人民广场地铁站")
    turn = chat.send(kind="location", location={"lat": 1.5, "lng": 2.5, "label": ""})
    assert turn.replies == ("当前问题不需要这个内容。\n请输入问题描述",)
    form = form_of(*reversed(LOCATION_FORM.fields[:2]))  # the description first
    chat = Chat(form)
    chat.send("投诉")
    turn = chat.send(kind="location", location={"lat": 1.5, "lng": 2.5, "label": "门店"})
    assert turn.replies == ("已收到位置，已填入“发生地点”。\n请输入问题描述",)
    assert chat.state.values["place"] == {"lat": 1.5, "lng": 2.5, "label": "门店"}


def test_idle_intake_expires_politely() -> None:
    chat = Chat(idle_timeout=timedelta(minutes=30))
    chat.send("投诉")
    chat.wait(timedelta(minutes=29))
    chat.say("王小明")
    chat.wait(timedelta(minutes=31))
    turn = chat.send("13800000001")
    assert turn.state is None and turn.intent == Cancelled("expired")
    assert turn.replies == (
        "由于超过30分钟没有收到您的回复，本次投诉登记已结束。如需投诉，请重新回复“投诉”。",
    )


def test_a_new_complaint_after_expiry_starts_at_once() -> None:
    chat = Chat(idle_timeout=timedelta(minutes=30))
    chat.send("投诉")
    chat.wait(timedelta(hours=2))
    turn = chat.send("我要投诉")
    assert len(turn.replies) == 2 and turn.replies[1].startswith(WELCOME)
    assert isinstance(turn.intent, StartIntake) and chat.asking == "customer_name"


def test_outside_a_dialog_greetings_and_short_text_get_help() -> None:
    chat = Chat()
    assert chat.send("你好").replies == (HELP,)
    assert chat.send("嗯嗯").replies == (HELP,)
    assert chat.state is None
    assert chat.send("帮助").intent == Help()
    assert chat.send("TS20261123-0001").intent == ProgressQuery("TS20261123-0001")
    assert chat.send("查询进度").intent == ProgressQuery(None)


def test_a_stored_state_whose_field_left_the_form_moves_on() -> None:
    chat = Chat()
    chat.send("投诉")
    chat.state = chat.state.evolve(current="removed_field")
    assert chat.say("王小明") == "请输入客户姓名"


def _at_summary() -> Chat:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    chat.send("投诉")
    chat.say("跳过")
    chat.say("服务态度")
    chat.say("客服态度很差，挂我电话")
    assert chat.say("跳过").startswith("请确认")
    return chat


def _at_media() -> Chat:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    chat.send("投诉")
    chat.say("跳过")
    chat.say("服务态度")
    chat.say("客服态度很差，挂我电话")
    assert chat.asking == "media"
    return chat


def test_voice_and_photos_at_the_summary_are_kept() -> None:
    chat = _at_summary()
    reply = chat.send(kind="voice", media_id="v-9").replies[0]
    assert reply == f"抱歉，没能识别语音内容，请用文字回复。\n{CONFIRM_PROMPT}"
    reply = chat.send(kind="image", attachment_id="p-2").replies[0]
    assert reply == f"已收到图片，已添加到“相关图片/视频”（共1个）。\n{CONFIRM_PROMPT}"
    turn = chat.send(kind="voice", media_id="v-10", recognition="确认提交。")
    assert turn.intent.values["media"] == [{"attachment_id": "p-2", "kind": "image"}]
    assert turn.intent.attachments == (
        {"media_id": "v-9", "kind": "voice"},
        {"media_id": "v-10", "kind": "voice"},
    )


def test_spoken_done_finishes_a_media_question_and_keeps_the_recording() -> None:
    chat = _at_media()
    chat.send(kind="image", attachment_id="p-1")
    assert (
        chat.send(kind="voice", media_id="v-1", recognition="好了").replies[0].startswith("请确认")
    )
    assert chat.state.attachments == ({"media_id": "v-1", "kind": "voice"},)


def test_a_media_field_taking_voice_stores_the_recording_in_the_field() -> None:
    form = form_of({"key": "rec", "label": "录音", "type": "file", "accept": ["voice"]})
    chat = Chat(form)
    chat.send("投诉")
    chat.send(kind="voice", attachment_id="v-1", recognition="随便说说")
    assert chat.state.values["rec"] == {"attachment_id": "v-1", "kind": "voice"}
    assert chat.state.attachments == ()


def test_an_unknown_menu_click_gets_help_not_an_intake() -> None:
    chat = Chat()
    assert chat.send(kind="click", text="MENU_ABOUT_US_PAGE").replies == (HELP,)
    assert chat.state is None
