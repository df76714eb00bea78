"""Passive replies: To/From swapped by the caller, safe CDATA, 2048-byte cap, AES wrapping."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bot.channels.callbacks import parse_flat_xml
from bot.channels.wechat_oa.inbound import (
    PASSIVE_TEXT_LIMIT,
    CallbackSecrets,
    encrypt_reply,
    render_text_reply,
    truncate_utf8,
)

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=3000,
)


def test_reply_has_the_fields_wechat_expects() -> None:
    fields = parse_flat_xml(render_text_reply("oCustomer", "gh_account", "您好", NOW))
    assert fields == {
        "ToUserName": "oCustomer",
        "FromUserName": "gh_account",
        "CreateTime": str(int(NOW.timestamp())),
        "MsgType": "text",
        "Content": "您好",
    }


@given(text=st.text(max_size=3000))
def test_truncation_fits_the_limit_and_keeps_a_prefix(text: str) -> None:
    text = text.encode("utf-8", errors="ignore").decode("utf-8")
    cut = truncate_utf8(text)
    assert len(cut.encode("utf-8")) <= PASSIVE_TEXT_LIMIT
    if cut != text:
        assert cut.endswith("…") and text.startswith(cut[:-1])


def test_long_chinese_text_is_cut_at_a_character_boundary() -> None:
    text = "投" * 1000  # 3000 bytes
    cut = truncate_utf8(text)
    assert cut == "投" * 681 + "…"
    assert len(cut.encode("utf-8")) == 2046


@given(text=XML_TEXT)
def test_any_text_survives_the_reply_xml(text: str) -> None:
    xml = render_text_reply("o", "gh", text, NOW)
    content = parse_flat_xml(xml)["Content"]
    expected = truncate_utf8("".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20))
    # XML parsers normalise CR and CRLF to LF.
    assert content == expected.replace("\r\n", "\n").replace("\r", "\n")


def test_encrypted_reply_decrypts_to_the_plain_reply() -> None:
    secrets_ = CallbackSecrets("tok", "wx0123456789abcdef", AES_KEY, "safe")
    plain = render_text_reply("o", "gh", "收到", NOW)
    wrapped = parse_flat_xml(encrypt_reply(plain, secrets_, NOW))
    assert wrapped["TimeStamp"] == str(int(NOW.timestamp()))
    crypto = WeChatCrypto("tok", AES_KEY, "wx0123456789abcdef")
    decrypted = crypto.decrypt_message(
        {"Encrypt": wrapped["Encrypt"]},
        wrapped["MsgSignature"],
        wrapped["TimeStamp"],
        wrapped["Nonce"],
    )
    assert decrypted == plain
