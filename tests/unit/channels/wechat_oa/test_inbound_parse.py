"""Every WeChat message and event type maps to the right InboundMessage and a stable dedupe key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.base import Location
from bot.channels.callbacks import CallbackRejected
from bot.channels.wechat_oa.inbound import (
    CallbackSecrets,
    dedupe_key,
    open_delivery,
    parse_message,
)
from tests.fakes.wechat_oa_server import FakeClock
from tests.fakes.wechat_phone import WechatPhone

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"
TOKEN = "callback-token"
OPENID = "oCustomer000000000000000001"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def phone(clock: FakeClock) -> WechatPhone:
    return WechatPhone(
        "http://unused", token=TOKEN, app_id=APP_ID, clock=clock.now, encoding_aes_key=AES_KEY
    )


def test_text_maps_content_sender_time_and_msgid(phone: WechatPhone, clock: FakeClock) -> None:
    fields = phone.fields("text", Content="  快递三天没到  ")
    event = parse_message(fields, "service")
    assert event is not None
    assert event.kind == "text"
    assert event.text == "  快递三天没到  "
    assert event.sender == OPENID
    assert event.channel == "service"
    assert event.sent_at == clock.now().replace(microsecond=0)
    assert event.sent_at.tzinfo is UTC
    assert event.dedupe_key == f"msg:{fields['MsgId']}"
    assert event.raw_type == "text"


def test_image_maps_pic_url_and_media_id(phone: WechatPhone) -> None:
    fields = phone.fields("image", PicUrl="http://mmbiz.qpic.cn/x/0", MediaId="m-img")
    event = parse_message(fields, "service")
    assert event is not None
    assert (event.kind, event.text, event.media_id) == (
        "image",
        "http://mmbiz.qpic.cn/x/0",
        "m-img",
    )


def test_voice_maps_media_id_and_recognition(phone: WechatPhone) -> None:
    fields = phone.fields("voice", MediaId="m-voice", Format="amr", Recognition="我要投诉")
    event = parse_message(fields, "service")
    assert event is not None
    assert (event.kind, event.text, event.media_id) == ("voice", "我要投诉", "m-voice")


def test_voice_without_recognition_has_empty_text(phone: WechatPhone) -> None:
    event = parse_message(phone.fields("voice", MediaId="m", Format="amr"), "service")
    assert event is not None and event.text == "" and event.media_id == "m"


@pytest.mark.parametrize("msg_type", ["video", "shortvideo"])
def test_video_maps_media_id(phone: WechatPhone, msg_type: str) -> None:
    event = parse_message(phone.fields(msg_type, MediaId="m-v", ThumbMediaId="t"), "service")
    assert event is not None
    assert (event.kind, event.media_id, event.raw_type) == ("video", "m-v", msg_type)


def test_location_maps_coordinates_and_label(phone: WechatPhone) -> None:
    fields = phone.fields(
        "location", Location_X="31.230416", Location_Y="121.473701", Scale="15", Label="上海市"
    )
    event = parse_message(fields, "service")
    assert event is not None
    assert event.kind == "location"
    assert event.location == Location(latitude=31.230416, longitude=121.473701, label="上海市")
    assert event.text == "上海市"


def test_location_without_numbers_is_refused(phone: WechatPhone) -> None:
    with pytest.raises(CallbackRejected) as refused:
        parse_message(phone.fields("location", Location_X="north", Location_Y="1"), "service")
    assert refused.value.status == 400


def test_link_keeps_title_description_and_url(phone: WechatPhone) -> None:
    fields = phone.fields("link", Title="订单", Description="详情", Url="https://shop.example/o/1")
    event = parse_message(fields, "service")
    assert event is not None
    assert event.kind == "link"
    assert event.text == "订单\n详情\nhttps://shop.example/o/1"


def test_subscribe_event_keys_on_sender_time_and_event(phone: WechatPhone) -> None:
    fields = phone.fields("event", Event="subscribe", EventKey="qrscene_store42")
    event = parse_message(fields, "service")
    assert event is not None
    assert event.kind == "subscribe"
    assert event.text == "qrscene_store42"
    assert event.dedupe_key == f"evt:{OPENID}:{fields['CreateTime']}:subscribe"


def test_unsubscribe_event(phone: WechatPhone) -> None:
    event = parse_message(phone.fields("event", Event="unsubscribe", EventKey=""), "service")
    assert event is not None and event.kind == "unsubscribe"


def test_click_event_carries_the_menu_key(phone: WechatPhone) -> None:
    fields = phone.fields("event", Event="CLICK", EventKey="COMPLAIN")
    event = parse_message(fields, "service")
    assert event is not None
    assert (event.kind, event.text, event.raw_type) == ("click", "COMPLAIN", "CLICK")
    assert event.dedupe_key == f"evt:{OPENID}:{fields['CreateTime']}:CLICK"


def test_view_event_is_a_click_carrying_the_url(phone: WechatPhone) -> None:
    fields = phone.fields("event", Event="VIEW", EventKey="https://bot.example.com/c/form")
    event = parse_message(fields, "service")
    assert event is not None
    assert (event.kind, event.text, event.raw_type) == (
        "click",
        "https://bot.example.com/c/form",
        "VIEW",
    )


@pytest.mark.parametrize(
    ("msg_type", "extra"),
    [
        ("event", {"Event": "LOCATION", "Latitude": "1", "Longitude": "2"}),
        ("event", {"Event": "TEMPLATESENDJOBFINISH", "Status": "success"}),
        ("miniprogrampage", {"Title": "x"}),
    ],
)
def test_types_the_service_does_not_handle_give_none(
    phone: WechatPhone, msg_type: str, extra: dict[str, str]
) -> None:
    assert parse_message(phone.fields(msg_type, **extra), "service") is None


def test_duplicate_deliveries_share_the_dedupe_key(phone: WechatPhone) -> None:
    fields = phone.fields("text", Content="hi")
    first, retry = phone.build(fields), phone.resigned(phone.build(fields), timestamp=None)
    secrets_ = CallbackSecrets(TOKEN, APP_ID, AES_KEY, "safe")
    now = phone.clock()
    keys = {
        dedupe_key(open_delivery(c.body, c.query, secrets_, now).fields) for c in (first, retry)
    }
    assert keys == {f"msg:{fields['MsgId']}"}


def test_two_events_a_second_apart_get_different_keys(phone: WechatPhone, clock: FakeClock) -> None:
    first = phone.fields("event", Event="CLICK", EventKey="PROGRESS")
    clock.advance(1)
    second = phone.fields("event", Event="CLICK", EventKey="PROGRESS")
    assert dedupe_key(first) != dedupe_key(second)


def test_delivery_without_sender_is_refused(phone: WechatPhone) -> None:
    fields = phone.fields("text", Content="x")
    del fields["FromUserName"]
    with pytest.raises(CallbackRejected):
        parse_message(fields, "service")


def test_create_time_is_read_as_utc_epoch(phone: WechatPhone) -> None:
    fields = {**phone.fields("text", Content="x"), "CreateTime": "1795413900"}
    event = parse_message(fields, "service")
    assert event is not None and event.sent_at == datetime.fromtimestamp(1795413900, UTC)
