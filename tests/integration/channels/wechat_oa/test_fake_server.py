"""The fake WeChat server itself: token lifetimes, windows and media behave as the platform's."""

from __future__ import annotations

import aiohttp

from tests.fakes.wechat_oa_server import FakeClock, FakeWechatServer


async def get(session: aiohttp.ClientSession, url: str, **params: str) -> dict:
    async with session.get(url, params=params) as resp:
        return await resp.json(content_type=None)


async def post(session: aiohttp.ClientSession, url: str, body: dict, **params: str) -> dict:
    async with session.post(url, json=body, params=params) as resp:
        return await resp.json(content_type=None)


async def test_classic_token_leaves_the_previous_one_five_minutes() -> None:
    clock = FakeClock()
    async with FakeWechatServer(clock=clock.now) as server, aiohttp.ClientSession() as session:
        creds = {
            "grant_type": "client_credential",
            "appid": server.app_id,
            "secret": server.app_secret,
        }
        old = (await get(session, f"{server.url}/cgi-bin/token", **creds))["access_token"]
        new = (await get(session, f"{server.url}/cgi-bin/token", **creds))["access_token"]
        assert old != new
        menu = f"{server.url}/cgi-bin/menu/get"
        assert (await get(session, menu, access_token=old))["errcode"] == 46003  # still valid
        clock.advance(301)
        assert (await get(session, menu, access_token=old))["errcode"] == 42001
        assert (await get(session, menu, access_token=new))["errcode"] == 46003
        assert (await get(session, menu, access_token="forged"))["errcode"] == 40001
        assert (await get(session, menu))["errcode"] == 41001


async def test_stable_token_is_the_same_until_it_expires_or_is_forced() -> None:
    clock = FakeClock()
    async with FakeWechatServer(clock=clock.now) as server, aiohttp.ClientSession() as session:
        url = f"{server.url}/cgi-bin/stable_token"
        body = {
            "grant_type": "client_credential",
            "appid": server.app_id,
            "secret": server.app_secret,
        }
        first = await post(session, url, body)
        clock.advance(100)
        second = await post(session, url, body)
        assert second["access_token"] == first["access_token"]
        assert second["expires_in"] == first["expires_in"] - 100
        forced = await post(session, url, {**body, "force_refresh": True})
        assert forced["access_token"] != first["access_token"]
        menu = f"{server.url}/cgi-bin/menu/get"
        assert (await get(session, menu, access_token=first["access_token"]))["errcode"] == 40001
        assert (await post(session, url, {**body, "secret": "x"}))["errcode"] == 40125


async def test_custom_message_window_opens_with_the_customer_and_closes_after_48_hours() -> None:
    clock = FakeClock()
    server = FakeWechatServer(clock=clock.now, token_lifetime=10**6)
    async with server, aiohttp.ClientSession() as session:
        body = {
            "grant_type": "client_credential",
            "appid": server.app_id,
            "secret": server.app_secret,
        }
        token = (await post(session, f"{server.url}/cgi-bin/stable_token", body))["access_token"]
        send = f"{server.url}/cgi-bin/message/custom/send"
        message = {"touser": "o1", "msgtype": "text", "text": {"content": "hi"}}
        assert (await post(session, send, message, access_token=token))["errcode"] == 45015
        server.customer_wrote("o1")
        assert (await post(session, send, message, access_token=token))["errcode"] == 0
        clock.advance(hours=47, minutes=59)
        assert (await post(session, send, message, access_token=token))["errcode"] == 0
        clock.advance(minutes=1)
        assert (await post(session, send, message, access_token=token))["errcode"] == 45015
        assert server.texts_for("o1") == ["hi", "hi"]


async def test_uploaded_media_downloads_until_it_expires() -> None:
    clock = FakeClock()
    async with FakeWechatServer(clock=clock.now) as server, aiohttp.ClientSession() as session:
        media_id = server.add_media(b"bytes", "image/png", "a.png", "image")
        body = {
            "grant_type": "client_credential",
            "appid": server.app_id,
            "secret": server.app_secret,
        }
        token = (await post(session, f"{server.url}/cgi-bin/stable_token", body))["access_token"]
        url = f"{server.url}/cgi-bin/media/get"
        async with session.get(url, params={"access_token": token, "media_id": media_id}) as resp:
            assert (resp.content_type, await resp.read()) == ("image/png", b"bytes")
        clock.advance(days=3, seconds=1)
        server.token_lifetime = 10**7
        token = (await post(session, f"{server.url}/cgi-bin/stable_token", body))["access_token"]
        assert (await get(session, url, access_token=token, media_id=media_id))["errcode"] == 40007
