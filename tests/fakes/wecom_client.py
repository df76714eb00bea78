"""Builds WeCom app callbacks exactly as WeCom sends them: encrypted, signed, with real XML.

    callbacks = WecomCallbacks(corp_id=.., token=.., encoding_aes_key=.., agent_id=.., clock=..)
    query = callbacks.url_check("echo")      # GET ?msg_signature&timestamp&nonce&echostr
    xml = callbacks.card_click("ZhangSan", "c-1-t-zs", "act:accept", fake.click_code(...),
                               selections={"assignee": ["lisi"]})
    status, text = await callbacks.post(session, url, xml)   # POST, encrypted envelope

Every knob a forgery test needs is a keyword: `token` (wrong signature), `receive_id` (another
CorpID inside the ciphertext), `to_user` (the envelope's ToUserName), `timestamp` (stale).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence

import aiohttp
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.channels.callbacks import parse_flat_xml
from tests.fakes.clock import FakeClock


class WecomCallbacks:
    """The sending side of one WeCom app's callback URL."""

    def __init__(
        self,
        *,
        corp_id: str,
        token: str,
        encoding_aes_key: str,
        agent_id: int,
        clock: FakeClock,
    ):
        self.corp_id = corp_id
        self.token = token
        self.agent_id = agent_id
        self.clock = clock
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self._ids = itertools.count(1)

    # --- plaintext messages ---------------------------------------------------------------------

    def text(self, user: str, content: str, *, msg_id: str | None = None) -> str:
        """A text message `user` sent to the app."""
        msg_id = msg_id or str(7_000_000_000_000_000_000 + next(self._ids))
        return (
            "<xml>"
            f"<ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(self.clock.time())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId>"
            f"<AgentID>{self.agent_id}</AgentID>"
            "</xml>"
        )

    def card_click(
        self,
        user: str,
        task_id: str,
        event_key: str,
        response_code: str,
        *,
        card_type: str = "button_interaction",
        selections: Mapping[str, Sequence[str]] | None = None,
        event: str = "template_card_event",
    ) -> str:
        """The template_card_event WeCom sends when `user` presses a button or submits."""
        items = ""
        if selections:
            items = "<SelectedItems>"
            for question, ids in selections.items():
                options = "".join(f"<OptionId><![CDATA[{i}]]></OptionId>" for i in ids)
                items += (
                    "<SelectedItem>"
                    f"<QuestionKey><![CDATA[{question}]]></QuestionKey>"
                    f"<OptionIds>{options}</OptionIds>"
                    "</SelectedItem>"
                )
            items += "</SelectedItems>"
        return (
            "<xml>"
            f"<ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(self.clock.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>"
            f"<EventKey><![CDATA[{event_key}]]></EventKey>"
            f"<TaskId><![CDATA[{task_id}]]></TaskId>"
            f"<CardType><![CDATA[{card_type}]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode>"
            f"<AgentID>{self.agent_id}</AgentID>"
            f"{items}"
            "</xml>"
        )

    # --- encryption -----------------------------------------------------------------------------

    def url_check(
        self, echostr: str, *, timestamp: int | None = None, token: str | None = None
    ) -> dict[str, str]:
        """The query of WeCom's GET URL verification for the plain `echostr`."""
        encrypted = self._encrypt(echostr, self.corp_id)
        return self._signed(encrypted, timestamp=timestamp, token=token) | {"echostr": encrypted}

    def envelope(
        self,
        plain_xml: str,
        *,
        timestamp: int | None = None,
        token: str | None = None,
        receive_id: str | None = None,
        to_user: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """(query, body) of the POST carrying `plain_xml` encrypted."""
        encrypted = self._encrypt(plain_xml, receive_id or self.corp_id)
        body = (
            "<xml>"
            f"<ToUserName><![CDATA[{to_user or self.corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            "</xml>"
        )
        return self._signed(encrypted, timestamp=timestamp, token=token), body.encode()

    async def post(
        self, session: aiohttp.ClientSession, url: str, plain_xml: str, **envelope: object
    ) -> tuple[int, str]:
        """POST an encrypted callback; returns (status, body text)."""
        query, body = self.envelope(plain_xml, **envelope)  # type: ignore[arg-type]
        async with session.post(
            url, params=query, data=body, headers={"Content-Type": "text/xml"}
        ) as response:
            return response.status, await response.text()

    def open_reply(self, reply_xml: str) -> dict[str, str]:
        """Verify and decrypt a passive reply the way WeCom does; the inner XML as {tag: text}."""
        envelope = parse_flat_xml(reply_xml)
        signature = _signature(
            self.token, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
        )
        assert signature == envelope["MsgSignature"], "passive reply signature does not match"
        plain = PrpCrypto(self._crypto.key).decrypt(envelope["Encrypt"], self.corp_id)
        return parse_flat_xml(plain)

    def _encrypt(self, text: str, receive_id: str) -> str:
        return PrpCrypto(self._crypto.key).encrypt(text, receive_id).decode()

    def _signed(
        self, encrypted: str, *, timestamp: int | None, token: str | None
    ) -> dict[str, str]:
        stamp = str(int(self.clock.time()) if timestamp is None else timestamp)
        nonce = f"n{next(self._ids)}"
        return {
            "msg_signature": _signature(token or self.token, stamp, nonce, encrypted),
            "timestamp": stamp,
            "nonce": nonce,
        }


def _signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()
