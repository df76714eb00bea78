"""WeCom callback crypto and parsing: nothing is trusted before every check passes."""

from __future__ import annotations

import base64

import pytest

from bot.channels.base import CardClick, InboundMessage
from bot.channels.callbacks import CallbackRejected, parse_flat_xml
from bot.channels.wecom.inbound import (
    CallbackCrypto,
    open_message,
    open_url_verification,
    parse_event,
    parse_selected_items,
    passive_text_reply,
)
from tests.fakes.clock import FakeClock
from tests.fakes.wecom_client import WecomCallbacks

CORP = "ww-unit-corp"
TOKEN = "unit-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
AGENT = 1000002


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, CORP)


@pytest.fixture
def wecom(clock: FakeClock) -> WecomCallbacks:
    return WecomCallbacks(
        corp_id=CORP, token=TOKEN, encoding_aes_key=AES_KEY, agent_id=AGENT, clock=clock
    )


def fields_of(xml: str) -> dict[str, str]:
    return parse_flat_xml(xml)


# --- URL verification and envelope checks ------------------------------------------------------


def test_url_verification_answers_the_decrypted_echostr(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    query = wecom.url_check("echo-4711")
    assert open_url_verification(crypto, query, clock()) == "echo-4711"


def test_url_verification_with_a_forged_signature_is_refused(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    query = wecom.url_check("echo", token="not-our-token")
    with pytest.raises(CallbackRejected) as refused:
        open_url_verification(crypto, query, clock())
    assert refused.value.status == 403


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce", "echostr"])
def test_url_verification_without_a_parameter_is_a_bad_request(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock, missing: str
) -> None:
    query = wecom.url_check("echo")
    del query[missing]
    with pytest.raises(CallbackRejected) as refused:
        open_url_verification(crypto, query, clock())
    assert refused.value.status == 400


def test_an_encrypted_message_opens_into_its_fields(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    query, body = wecom.envelope(wecom.text("ZhangSan", "我的待办"))
    fields = open_message(crypto, query, body, clock())
    assert fields["FromUserName"] == "ZhangSan" and fields["Content"] == "我的待办"


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ({"token": "forged"}, "msg_signature"),
        ({"receive_id": "ww-another-corp"}, "receiveid"),
        ({"to_user": "ww-another-corp"}, "ToUserName"),
        ({"timestamp": -301}, "timestamp"),
        ({"timestamp": +301}, "timestamp"),
    ],
    ids=[
        "forged signature",
        "wrong CorpID inside",
        "wrong CorpID outside",
        "stale timestamp",
        "future timestamp",
    ],
)
def test_forged_or_replayed_messages_are_refused_with_403(
    crypto: CallbackCrypto,
    wecom: WecomCallbacks,
    clock: FakeClock,
    forgery: dict[str, object],
    reason: str,
) -> None:
    offset = forgery.get("timestamp")
    if isinstance(offset, int):  # an offset from now
        forgery = {"timestamp": int(clock.time()) + offset}
    query, body = wecom.envelope(wecom.text("ZhangSan", "hi"), **forgery)  # type: ignore[arg-type]
    with pytest.raises(CallbackRejected) as refused:
        open_message(crypto, query, body, clock())
    assert refused.value.status == 403 and reason in refused.value.reason


def test_a_timestamp_inside_the_window_is_accepted(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    query, body = wecom.envelope(wecom.text("ZhangSan", "hi"), timestamp=int(clock.time()) - 299)
    assert open_message(crypto, query, body, clock())["Content"] == "hi"


def test_an_entity_in_the_envelope_is_refused_before_decryption(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    query, _ = wecom.envelope(wecom.text("ZhangSan", "hi"))
    body = b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>'
    with pytest.raises(CallbackRejected) as refused:
        open_message(crypto, query, body, clock())
    assert refused.value.status == 400


def test_an_entity_inside_the_ciphertext_is_refused_after_decryption(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    evil = '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>'
    query, body = wecom.envelope(evil)
    with pytest.raises(CallbackRejected) as refused:
        open_message(crypto, query, body, clock())
    assert refused.value.status == 400


def test_ciphertext_that_is_not_wecoms_is_a_bad_request(
    crypto: CallbackCrypto, wecom: WecomCallbacks, clock: FakeClock
) -> None:
    garbage = base64.b64encode(b"not a block cipher text").decode()
    query = wecom._signed(garbage, timestamp=None, token=None)
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
    with pytest.raises(CallbackRejected) as refused:
        open_message(crypto, query, body, clock())
    assert refused.value.status == 400


# --- parsing -----------------------------------------------------------------------------------


def test_text_message_becomes_an_inbound_text_from_the_userid(
    wecom: WecomCallbacks, clock: FakeClock
) -> None:
    event = parse_event(
        "staff-wecom", fields_of(wecom.text("ZhangSan", "查询 TS20241123-0001", msg_id="42"))
    )
    assert event == InboundMessage(
        channel="staff-wecom",
        dedupe_key="msg:42",
        sender="ZhangSan",
        kind="text",
        sent_at=clock(),
        text="查询 TS20241123-0001",
        raw_type="text",
    )


def test_card_click_becomes_a_card_click_with_selections_and_code(
    wecom: WecomCallbacks, clock: FakeClock
) -> None:
    xml = wecom.card_click(
        "ZhangSan",
        "c-1-transfer-zs",
        "act:transfer",
        "rc-123",
        selections={"assignee": ["lisi"], "department": ["cs"]},
    )
    event = parse_event("staff-wecom", fields_of(xml))
    assert event == CardClick(
        channel="staff-wecom",
        dedupe_key=f"evt:ZhangSan:{int(clock.time())}:template_card_event:c-1-transfer-zs:act:transfer",
        sender="ZhangSan",
        card_ref="c-1-transfer-zs",
        action="transfer",
        sent_at=clock(),
        selections={"assignee": ("lisi",), "department": ("cs",)},
        response_code="rc-123",
    )


def test_click_on_a_replacement_card_names_the_original_ref(wecom: WecomCallbacks) -> None:
    xml = wecom.card_click("ZhangSan", "c-1-accept-zs@0123456789ab", "act:accept", "rc-1")
    event = parse_event("staff-wecom", fields_of(xml))
    assert isinstance(event, CardClick) and event.card_ref == "c-1-accept-zs"


def test_submit_of_the_action_chooser_takes_the_action_from_the_selection(
    wecom: WecomCallbacks,
) -> None:
    xml = wecom.card_click(
        "ZhangSan",
        "c-1",
        "act:*",
        "rc-9",
        card_type="multiple_interaction",
        selections={"assignee": ["wangwu"], "_action": ["transfer"]},
    )
    event = parse_event("staff-wecom", fields_of(xml))
    assert isinstance(event, CardClick)
    assert event.action == "transfer"
    assert event.selections == {"assignee": ("wangwu",)}


def test_multi_choice_selection_keeps_every_option_in_order() -> None:
    raw = (
        "<SelectedItems><SelectedItem><QuestionKey>tags</QuestionKey><OptionIds>"
        "<OptionId>b</OptionId><OptionId>a</OptionId></OptionIds></SelectedItem></SelectedItems>"
    )
    assert parse_selected_items(raw) == {"tags": ("b", "a")}


def test_a_retried_click_has_the_same_dedupe_key(wecom: WecomCallbacks) -> None:
    xml = wecom.card_click("ZhangSan", "c-1", "act:accept", "rc-1")
    first = parse_event("staff-wecom", fields_of(xml))
    again = parse_event("staff-wecom", fields_of(xml))
    assert first is not None and again is not None and first.dedupe_key == again.dedupe_key


def test_menu_click_and_subscribe_are_messages_other_events_are_ignored() -> None:
    base = {"FromUserName": "ZhangSan", "CreateTime": "1700000000", "MsgType": "event"}
    click = parse_event("w", {**base, "Event": "click", "EventKey": "my_tasks"})
    assert isinstance(click, InboundMessage) and click.kind == "click" and click.text == "my_tasks"
    follow = parse_event("w", {**base, "Event": "subscribe"})
    assert isinstance(follow, InboundMessage) and follow.kind == "subscribe"
    assert parse_event("w", {**base, "Event": "enter_agent"}) is None


def test_a_message_without_sender_is_a_bad_request() -> None:
    with pytest.raises(CallbackRejected) as refused:
        parse_event("w", {"MsgType": "text", "Content": "hi"})
    assert refused.value.status == 400


# --- passive replies ---------------------------------------------------------------------------


def test_passive_reply_is_encrypted_for_the_sender(
    crypto: CallbackCrypto, wecom: WecomCallbacks
) -> None:
    reply = passive_text_reply(
        crypto, to_user="ZhangSan", text="已收到 ]]> 投诉", timestamp="1700000000"
    )
    inner = wecom.open_reply(reply)
    assert inner["ToUserName"] == "ZhangSan" and inner["FromUserName"] == CORP
    assert inner["MsgType"] == "text" and inner["Content"] == "已收到 ]]> 投诉"


def test_passive_reply_content_is_cut_to_2048_bytes(
    crypto: CallbackCrypto, wecom: WecomCallbacks
) -> None:
    reply = passive_text_reply(crypto, to_user="ZhangSan", text="长" * 1000, timestamp="1")
    content = wecom.open_reply(reply)["Content"]
    assert len(content.encode()) <= 2048 and content.endswith("…")
