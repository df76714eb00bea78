"""Cross-checks against wechatpy, the reference: its decrypt and message model read what our fake
phone builds exactly as our parser does, and it accepts the replies we encrypt.

wechatpy parses with xmltodict, so it only ever sees the trusted test data built here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.parser import parse_message as wechatpy_parse

from bot.channels.base import InboundMessage
from bot.channels.wechat_oa.inbound import (
    CallbackSecrets,
    encrypt_reply,
    open_delivery,
    parse_message,
    render_text_reply,
)
from tests.fakes.wechat_oa_server import FakeClock
from tests.fakes.wechat_phone import WechatPhone, plain_xml

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"
TOKEN = "callback-token"

CASES: dict[
    str, tuple[Callable[[WechatPhone], dict[str, str]], Callable[[object, InboundMessage], bool]]
] = {
    "text": (
        lambda p: p.fields("text", Content="快递没到"),
        lambda m, e: m.content == e.text,  # type: ignore[attr-defined]
    ),
    "image": (
        lambda p: p.fields("image", PicUrl="http://p/1", MediaId="m1"),
        lambda m, e: (m.image, m.media_id) == (e.text, e.media_id),  # type: ignore[attr-defined]
    ),
    "voice": (
        lambda p: p.fields("voice", MediaId="m2", Format="amr", Recognition="投诉"),
        lambda m, e: (m.recognition, m.media_id) == (e.text, e.media_id),  # type: ignore[attr-defined]
    ),
    "location": (
        lambda p: p.fields(
            "location", Location_X="31.2", Location_Y="121.4", Scale="15", Label="上海"
        ),
        lambda m, e: (
            e.location is not None
            and (float(m.location_x), float(m.location_y))
            == (e.location.latitude, e.location.longitude)  # type: ignore[attr-defined]
            and m.label == e.location.label
        ),  # type: ignore[attr-defined]
    ),
    "click": (
        lambda p: p.fields("event", Event="CLICK", EventKey="COMPLAIN"),
        lambda m, e: m.key == e.text,  # type: ignore[attr-defined]
    ),
    "view": (
        lambda p: p.fields("event", Event="VIEW", EventKey="https://b/c/form"),
        lambda m, e: m.url == e.text,  # type: ignore[attr-defined]
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_wechatpy_reads_the_phone_s_delivery_as_we_do(case: str) -> None:
    clock = FakeClock()
    phone = WechatPhone(
        "http://unused", token=TOKEN, app_id=APP_ID, clock=clock.now, encoding_aes_key=AES_KEY
    )
    build, agrees = CASES[case]
    callback = phone.build(build(phone))
    query = callback.query
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    theirs = wechatpy_parse(
        crypto.decrypt_message(
            callback.body.decode(), query["msg_signature"], query["timestamp"], query["nonce"]
        )
    )
    delivery = open_delivery(
        callback.body, query, CallbackSecrets(TOKEN, APP_ID, AES_KEY, "safe"), clock.now()
    )
    ours = parse_message(delivery.fields, "service")
    assert ours is not None
    assert theirs.source == ours.sender
    assert theirs.create_time == ours.sent_at
    assert agrees(theirs, ours)


def test_wechatpy_decrypts_our_encrypted_reply() -> None:
    clock = FakeClock()
    plain = render_text_reply("oCustomer", "gh_account", "收到", clock.now())
    wrapped = encrypt_reply(plain, CallbackSecrets(TOKEN, APP_ID, AES_KEY, "safe"), clock.now())
    import xmltodict

    fields = xmltodict.parse(wrapped)["xml"]
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    decrypted = crypto.decrypt_message(
        wrapped, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )
    reply = wechatpy_parse(decrypted)
    assert (reply.type, reply.content, reply.target) == ("text", "收到", "oCustomer")


def test_plain_xml_matches_the_documented_sample() -> None:
    fields = {
        "ToUserName": "toUser",
        "FromUserName": "fromUser",
        "CreateTime": "1348831860",
        "MsgType": "text",
        "Content": "this is a test",
        "MsgId": "1234567890123456",
    }
    assert plain_xml(fields) == (
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]>"
        "</FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>"
    )
