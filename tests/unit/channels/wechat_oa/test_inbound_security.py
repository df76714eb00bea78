"""Forged, stale, malformed and hostile deliveries are refused with a 4xx before any trust."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from bot.channels.callbacks import CallbackRejected
from bot.channels.wechat_oa.inbound import CallbackSecrets, open_delivery, verify_url
from tests.fakes.wechat_oa_server import FakeClock
from tests.fakes.wechat_phone import Callback, Mode, WechatPhone

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"
TOKEN = "callback-token"
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><Content>&lol3;</Content></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def phone_for(mode: Mode, clock: FakeClock, app_id: str = APP_ID) -> WechatPhone:
    return WechatPhone(
        "http://unused",
        token=TOKEN,
        app_id=app_id,
        clock=clock.now,
        encoding_aes_key=AES_KEY,
        mode=mode,
    )


def secrets_for(mode: Mode) -> CallbackSecrets:
    return CallbackSecrets(TOKEN, APP_ID, AES_KEY, mode, timestamp_window=300)


def refused(callback: Callback, mode: Mode, clock: FakeClock) -> int:
    with pytest.raises(CallbackRejected) as exc:
        open_delivery(callback.body, callback.query, secrets_for(mode), clock.now())
    return exc.value.status


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_a_genuine_delivery_opens_in_every_mode(mode: Mode, clock: FakeClock) -> None:
    phone = phone_for(mode, clock)
    fields = phone.fields("text", Content="你好 <b> & ]]> 再见")
    callback = phone.build(fields)
    delivery = open_delivery(callback.body, callback.query, secrets_for(mode), clock.now())
    assert delivery.fields["Content"] == "你好 <b> & ]]> 再见"
    assert delivery.encrypted == (mode != "plaintext")


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_forged_signature_is_refused(mode: Mode, clock: FakeClock) -> None:
    callback = phone_for(mode, clock).build(phone_for(mode, clock).fields("text", Content="x"))
    forged = replace(callback, query={**callback.query, "signature": "0" * 40})
    assert refused(forged, mode, clock) == 403


@pytest.mark.parametrize("mode", ["compatible", "safe"])
def test_forged_msg_signature_is_refused(mode: Mode, clock: FakeClock) -> None:
    phone = phone_for(mode, clock)
    callback = phone.build(phone.fields("text", Content="x"))
    forged = replace(callback, query={**callback.query, "msg_signature": "f" * 40})
    assert refused(forged, mode, clock) == 403


def test_ciphertext_swapped_under_a_valid_signature_is_refused(clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    genuine = phone.build(phone.fields("text", Content="x"))
    other = phone.encrypt("<xml><Content>injected</Content></xml>")
    body = (
        genuine.body.decode().split("<Encrypt>")[0]
        + f"<Encrypt><![CDATA[{other}]]></Encrypt></xml>"
    )
    assert refused(replace(genuine, body=body.encode()), "safe", clock) == 403


@pytest.mark.parametrize("mode", ["compatible", "safe"])
def test_wrong_app_id_inside_the_ciphertext_is_refused(mode: Mode, clock: FakeClock) -> None:
    intruder = phone_for(mode, clock, app_id="wxffffffffffffffff")
    callback = intruder.build(intruder.fields("text", Content="x"))
    assert refused(callback, mode, clock) == 403


@pytest.mark.parametrize("seconds", [301, -301, 86400])
def test_timestamp_outside_the_window_is_refused(seconds: int, clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    stamp = int(clock.time()) - seconds
    callback = phone.build(phone.fields("text", Content="x"), timestamp=stamp)
    assert refused(callback, "safe", clock) == 403


def test_timestamp_at_the_edge_of_the_window_is_accepted(clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    callback = phone.build(phone.fields("text", Content="x"), timestamp=int(clock.time()) - 300)
    open_delivery(callback.body, callback.query, secrets_for("safe"), clock.now())


def test_missing_timestamp_is_refused(clock: FakeClock) -> None:
    phone = phone_for("plaintext", clock)
    callback = phone.build(phone.fields("text", Content="x"))
    query = {k: v for k, v in callback.query.items() if k != "timestamp"}
    assert refused(replace(callback, query=query), "plaintext", clock) == 400


@pytest.mark.parametrize("mode", ["compatible", "safe"])
def test_truncated_base64_is_refused(mode: Mode, clock: FakeClock) -> None:
    phone = phone_for(mode, clock)
    stamp, nonce = str(int(clock.time())), "123"
    good = phone.encrypt(phone_xml(phone))
    for broken in (good[:-7], good[:21], good + "A", "!!!!"):
        callback = signed_with_encrypt(phone, broken, stamp, nonce)
        assert refused(callback, mode, clock) == 400


def test_ciphertext_of_random_bytes_is_refused(clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    noise = base64.b64encode(bytes(range(256)) * 2).decode()
    callback = signed_with_encrypt(phone, noise, str(int(clock.time())), "9")
    assert refused(callback, "safe", clock) in (400, 403)


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
@pytest.mark.parametrize("body", [b"", b"not xml at all", b'{"json": true}', b"<xml><a></xml>"])
def test_non_xml_is_refused(mode: Mode, body: bytes, clock: FakeClock) -> None:
    callback = phone_for(mode, clock).build({"MsgType": "text"})
    assert refused(replace(callback, body=body), mode, clock) == 400


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entities_outside_the_ciphertext_are_refused(
    mode: Mode, hostile: str, clock: FakeClock
) -> None:
    callback = phone_for(mode, clock).build({"MsgType": "text"})
    assert refused(replace(callback, body=hostile.encode()), mode, clock) == 400


@pytest.mark.parametrize("mode", ["compatible", "safe"])
@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entities_inside_the_ciphertext_are_refused(
    mode: Mode, hostile: str, clock: FakeClock
) -> None:
    phone = phone_for(mode, clock)
    callback = phone.build_xml(hostile)
    assert refused(callback, mode, clock) == 400


def test_encrypted_delivery_to_a_plaintext_channel_is_refused(clock: FakeClock) -> None:
    callback = phone_for("safe", clock).build(phone_for("safe", clock).fields("text", Content="x"))
    assert refused(callback, "plaintext", clock) == 400


@pytest.mark.parametrize("mode", ["compatible", "safe"])
def test_plaintext_delivery_to_an_encrypted_channel_is_refused(
    mode: Mode, clock: FakeClock
) -> None:
    phone = phone_for("plaintext", clock)
    callback = phone.build(phone.fields("text", Content="x"))
    assert refused(callback, mode, clock) == 400


def test_url_verification_echoes_echostr(clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    query = {**phone.build({}).query, "echostr": "4711"}
    assert verify_url(query, secrets_for("safe"), clock.now()) == "4711"


def test_url_verification_with_a_forged_signature_is_refused(clock: FakeClock) -> None:
    phone = phone_for("safe", clock)
    query = {**phone.build({}).query, "echostr": "4711", "signature": "1" * 40}
    with pytest.raises(CallbackRejected) as exc:
        verify_url(query, secrets_for("safe"), clock.now())
    assert exc.value.status == 403


def phone_xml(phone: WechatPhone) -> str:
    from tests.fakes.wechat_phone import plain_xml

    return plain_xml(phone.fields("text", Content="x"))


def signed_with_encrypt(phone: WechatPhone, encrypt: str, stamp: str, nonce: str) -> Callback:
    """A delivery whose signatures are genuine for whatever `encrypt` holds."""
    from wechatpy.crypto import _get_signature
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(TOKEN, stamp, nonce)
    query = {
        "signature": signer.signature,
        "timestamp": stamp,
        "nonce": nonce,
        "openid": phone.openid,
        "encrypt_type": "aes",
        "msg_signature": _get_signature(TOKEN, stamp, nonce, encrypt),
    }
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return Callback(query, body.encode())


def test_compatible_mode_trusts_only_the_encrypted_part(clock: FakeClock) -> None:
    phone = phone_for("compatible", clock)
    callback = phone.build(phone.fields("text", Content="真的内容"))
    tampered = callback.body.replace("真的内容".encode(), "伪造内容".encode(), 1)
    assert tampered != callback.body
    delivery = open_delivery(tampered, callback.query, secrets_for("compatible"), clock.now())
    assert delivery.fields["Content"] == "真的内容"
