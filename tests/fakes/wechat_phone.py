"""A customer's phone: builds Official Account callbacks exactly as WeChat's servers do.

`build(fields)` is pure (query + body, signed and, in AES modes, encrypted with wechatpy's own
PrpCrypto), so tests can tamper with a real callback; `deliver(fields)` posts it to the bot,
tells the fake server the customer interacted (opening the 48 h window) and records the passive
reply the customer saw. The helpers (`send_text`, `click`, `subscribe` …) build each type with
the fields WeChat documents for it.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import aiohttp
from wechatpy.crypto import PrpCrypto, WeChatCrypto, _get_signature
from wechatpy.utils import WeChatSigner

from bot.channels.callbacks import parse_flat_xml
from tests.fakes.wechat_oa_server import FakeWechatServer

Mode = Literal["plaintext", "compatible", "safe"]
# Fields WeChat writes as bare numbers; everything else is CDATA.
_NUMERIC = {"CreateTime", "MsgId", "Location_X", "Location_Y", "Scale", "Latitude", "Longitude"}


@dataclass(frozen=True)
class Callback:
    """One HTTP delivery as WeChat would POST it."""

    query: dict[str, str]
    body: bytes
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PhoneReply:
    """How the bot answered: status, raw body, and the (decrypted) reply fields."""

    status: int
    body: str
    fields: Mapping[str, str]

    @property
    def text(self) -> str | None:
        """The passive text reply's Content, or None for "success" / an empty answer."""
        return self.fields.get("Content") if self.fields.get("MsgType") == "text" else None


def plain_xml(fields: Mapping[str, str]) -> str:
    """The message XML as WeChat writes it: CDATA strings, bare numbers."""
    parts = []
    for key, value in fields.items():
        # "]]>" cannot sit inside CDATA: split the section around it.
        cdata = "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        inner = value if key in _NUMERIC else cdata
        parts.append(f"<{key}>{inner}</{key}>")
    return "<xml>" + "".join(parts) + "</xml>"


class WechatPhone:
    """One customer (openid) writing to one Official Account's callback URL."""

    def __init__(
        self,
        callback_url: str,
        *,
        token: str,
        app_id: str,
        clock: Callable[[], datetime],
        encoding_aes_key: str | None = None,
        mode: Mode = "safe",
        openid: str = "oCustomer000000000000000001",
        account: str = "gh_0123456789ab",
        server: FakeWechatServer | None = None,
    ):
        self.callback_url = callback_url
        self.token = token
        self.app_id = app_id
        self.clock = clock
        self.encoding_aes_key = encoding_aes_key
        self.mode = mode
        self.openid = openid
        self.account = account
        self.server = server
        self.last: Callback | None = None
        self._msg_id = 24_000_000_000_000_000
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_server(
        cls,
        server: FakeWechatServer,
        callback_url: str,
        *,
        mode: Mode = "safe",
        openid: str = "oCustomer000000000000000001",
    ) -> WechatPhone:
        """A phone using the fake account's credentials and clock, reporting back to it."""
        return cls(
            callback_url,
            token=server.token,
            app_id=server.app_id,
            clock=server.clock,
            encoding_aes_key=server.encoding_aes_key,
            mode=mode,
            openid=openid,
            server=server,
        )

    def other(self, openid: str) -> WechatPhone:
        """Another customer on the same account."""
        phone = WechatPhone(
            self.callback_url,
            token=self.token,
            app_id=self.app_id,
            clock=self.clock,
            encoding_aes_key=self.encoding_aes_key,
            mode=self.mode,
            openid=openid,
            account=self.account,
            server=self.server,
        )
        phone._session = self._session
        return phone

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- building ----------------------------------------------------------------------------

    def fields(self, msg_type: str, **extra: str) -> dict[str, str]:
        """Common fields plus `extra`; messages (not events) get a fresh MsgId."""
        out = {
            "ToUserName": self.account,
            "FromUserName": self.openid,
            "CreateTime": str(int(self.clock().timestamp())),
            "MsgType": msg_type,
            **extra,
        }
        if msg_type != "event":
            self._msg_id += 1
            out["MsgId"] = str(self._msg_id)
        return out

    def build(
        self, fields: Mapping[str, str], *, timestamp: int | None = None, nonce: str | None = None
    ) -> Callback:
        """The signed (and, in AES modes, encrypted) delivery of `fields`."""
        return self.build_xml(plain_xml(fields), fields, timestamp=timestamp, nonce=nonce)

    def build_xml(
        self,
        xml: str,
        fields: Mapping[str, str] | None = None,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> Callback:
        """Like `build`, from raw message XML (for hostile payloads inside the ciphertext)."""
        stamp = str(timestamp if timestamp is not None else int(self.clock().timestamp()))
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {
            "signature": _signature(self.token, stamp, nonce),
            "timestamp": stamp,
            "nonce": nonce,
            "openid": self.openid,
        }
        if self.mode == "plaintext":
            return Callback(query, xml.encode("utf-8"), dict(fields or {}))
        encrypt = self.encrypt(xml)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = _get_signature(self.token, stamp, nonce, encrypt)
        head = xml[: -len("</xml>")] if self.mode == "compatible" else "<xml>"
        if self.mode == "safe":
            head += f"<ToUserName><![CDATA[{self.account}]]></ToUserName>"
        body = f"{head}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return Callback(query, body.encode("utf-8"), dict(fields or {}))

    def encrypt(self, xml: str, app_id: str | None = None) -> str:
        """The Encrypt value WeChat would send (AES-CBC, random prefix, length, AppID)."""
        key = WeChatCrypto(self.token, self.encoding_aes_key, self.app_id).key
        return PrpCrypto(key).encrypt(xml, app_id or self.app_id).decode("ascii")

    def resigned(self, callback: Callback, *, timestamp: int | None = None) -> Callback:
        """`callback` with a fresh timestamp, nonce and signatures (as a WeChat retry)."""
        stamp = str(timestamp if timestamp is not None else int(self.clock().timestamp()))
        nonce = str(secrets.randbelow(10**10))
        query = {**callback.query, "timestamp": stamp, "nonce": nonce}
        query["signature"] = _signature(self.token, stamp, nonce)
        if "msg_signature" in query:
            encrypt = parse_flat_xml(callback.body)["Encrypt"]
            query["msg_signature"] = _get_signature(self.token, stamp, nonce, encrypt)
        return replace(callback, query=query)

    # --- sending -----------------------------------------------------------------------------

    async def post(self, callback: Callback) -> PhoneReply:
        """POST a callback as is (no window opened, nothing recorded)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(
            self.callback_url,
            params=callback.query,
            data=io.BytesIO(callback.body),  # bytes over 1 MB warn in aiohttp
            headers={"Content-Type": "text/xml"},
        ) as resp:
            body = await resp.text()
            status = resp.status
        return PhoneReply(status, body, self._read_reply(status, body))

    def _read_reply(self, status: int, body: str) -> Mapping[str, str]:
        if status != 200 or not body.strip().startswith("<xml"):
            return {}
        fields = parse_flat_xml(body)
        if "Encrypt" not in fields:
            return fields
        crypto = WeChatCrypto(self.token, self.encoding_aes_key, self.app_id)
        plaintext = crypto.decrypt_message(
            {"Encrypt": fields["Encrypt"]},
            fields["MsgSignature"],
            fields["TimeStamp"],
            fields["Nonce"],
        )
        return parse_flat_xml(plaintext)

    async def deliver(self, fields: Mapping[str, str]) -> PhoneReply:
        """Send `fields` the way WeChat does, and keep the server's view of the customer."""
        callback = self.build(fields)
        self.last = callback
        self._interacted(fields)
        return await self._posted(callback)

    async def redeliver(self) -> PhoneReply:
        """WeChat's retry of the last delivery (same message, fresh signature)."""
        assert self.last is not None, "nothing delivered yet"
        return await self._posted(self.resigned(self.last))

    async def _posted(self, callback: Callback) -> PhoneReply:
        reply = await self.post(callback)
        if self.server is not None and reply.text:
            self.server.record_passive(self.openid, reply.text)
        return reply

    def _interacted(self, fields: Mapping[str, str]) -> None:
        if self.server is None:
            return
        event = fields.get("Event", "").lower()
        if fields.get("MsgType") != "event":
            self.server.customer_wrote(self.openid, kind="message")
        elif event == "unsubscribe":
            self.server.unfollow(self.openid)
        elif event == "subscribe":
            self.server.customer_wrote(self.openid, kind="subscribe")
        elif event == "scan":
            self.server.customer_wrote(self.openid, kind="scan")
        elif event in ("click", "view"):
            self.server.customer_wrote(self.openid, kind="click")

    async def verify_url(self, echostr: str = "echo-1234567890") -> tuple[int, str]:
        """WeChat's GET when the callback URL is saved in the console."""
        stamp = str(int(self.clock().timestamp()))
        nonce = str(secrets.randbelow(10**10))
        query = {
            "signature": _signature(self.token, stamp, nonce),
            "timestamp": stamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(self.callback_url, params=query) as resp:
            return resp.status, await resp.text()

    # --- one helper per message type ---------------------------------------------------------

    async def send_text(self, content: str) -> PhoneReply:
        return await self.deliver(self.fields("text", Content=content))

    async def send_image(
        self, content: bytes = b"\x89PNG fake", pic_url: str | None = None
    ) -> PhoneReply:
        media_id = self._media(content, "image/png", "photo.png", "image")
        url = pic_url or f"http://mmbiz.qpic.cn/mmbiz/{media_id}/0"
        return await self.deliver(self.fields("image", PicUrl=url, MediaId=media_id))

    async def send_voice(self, recognition: str = "", content: bytes = b"#!AMR") -> PhoneReply:
        media_id = self._media(content, "audio/amr", "voice.amr", "voice")
        extra = {"MediaId": media_id, "Format": "amr"}
        if recognition:
            extra["Recognition"] = recognition
        return await self.deliver(self.fields("voice", **extra))

    async def send_video(self, content: bytes = b"\x00\x00mp4") -> PhoneReply:
        media_id = self._media(content, "video/mp4", "video.mp4", "video")
        thumb = self._media(b"\xff\xd8thumb", "image/jpeg", "thumb.jpg", "thumb")
        return await self.deliver(self.fields("video", MediaId=media_id, ThumbMediaId=thumb))

    async def send_location(
        self, latitude: float, longitude: float, label: str = "", scale: int = 15
    ) -> PhoneReply:
        fields = self.fields(
            "location",
            Location_X=f"{latitude:.6f}",
            Location_Y=f"{longitude:.6f}",
            Scale=str(scale),
            Label=label,
        )
        return await self.deliver(fields)

    async def send_link(self, title: str, description: str, url: str) -> PhoneReply:
        fields = self.fields("link", Title=title, Description=description, Url=url)
        return await self.deliver(fields)

    async def subscribe(self, scene: str = "") -> PhoneReply:
        extra = {"Event": "subscribe", "EventKey": f"qrscene_{scene}" if scene else ""}
        return await self.deliver(self.fields("event", **extra))

    async def unsubscribe(self) -> PhoneReply:
        return await self.deliver(self.fields("event", Event="unsubscribe", EventKey=""))

    async def click(self, key: str) -> PhoneReply:
        return await self.deliver(self.fields("event", Event="CLICK", EventKey=key))

    async def view(self, url: str) -> PhoneReply:
        return await self.deliver(self.fields("event", Event="VIEW", EventKey=url))

    def _media(self, content: bytes, content_type: str, filename: str, kind: str) -> str:
        if self.server is not None:
            return self.server.add_media(content, content_type, filename, kind)
        return "media_" + secrets.token_hex(12)


def _signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature
