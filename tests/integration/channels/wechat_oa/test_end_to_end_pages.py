"""The customer's mobile pages end to end (both databases): the card's link, 补充信息, 撤销, 评价,
and the intake form the menu's 在线填表 links to. Signed links, CSRF, and one change per tap.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import func, select

from bot.service.customer_links import make_token
from bot.workflow import ActionKind
from storage.models import (
    Attachment,
    Comment,
    Complaint,
    Conversation,
    SurveyAnswer,
    Timer,
)
from tests.integration.channels.wechat_oa.shop_harness import (
    OPENID,
    PUBLIC_URL,
    Shop,
)

NUMBER = "TS20261123-0001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
INTAKE = ("包装破损，杯子摔碎了", "王小明", "13912345678", "跳过", "产品质量", "跳过", "跳过")


async def _complain(shop: Shop) -> str:
    """A complaint by chat; the path of the page its news card links to."""
    for text in INTAKE:
        await shop.say(text)
    assert (await shop.say("确认提交")).startswith(f"您的投诉已提交，编号：{NUMBER}")
    return _card_path(shop)


def _card_path(shop: Shop) -> str:
    news = [m for m in shop.seen() if m.msgtype == "news"]
    url = news[-1].payload["news"]["articles"][0]["url"]
    assert url.startswith(PUBLIC_URL)
    return urlsplit(url).path


async def _page(shop: Shop, path: str, status: int = 200) -> str:
    response = await shop.client.get(path)
    body = await response.text()
    assert response.status == status, body
    return body


def _guard(html: str) -> dict[str, str]:
    return {
        "form_id": re.search(r'name="form_id" value="([^"]+)"', html).group(1),
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
    }


async def _post(shop: Shop, path: str, fields: dict[str, str], files=()) -> aiohttp.ClientResponse:
    data = aiohttp.FormData()
    for name, value in fields.items():
        data.add_field(name, value)
    for name, filename, content in files:
        data.add_field(name, content, filename=filename, content_type="application/octet-stream")
    return await shop.client.post(path, data=data, allow_redirects=False)


async def _count(shop: Shop, model) -> int:
    async with shop.db.read() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_the_card_opens_the_customers_own_page(shop: Shop):
    path = await _complain(shop)
    response = await shop.client.get(path)
    html = await response.text()
    assert response.status == 200
    # The token is in the URL: it never leaves in a Referer; nothing is cached or framed.
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "http" not in re.sub(r"https://bot\.example\.com", "", html.split("<main")[0])
    for shown in (
        NUMBER,
        "待受理",
        "当前环节：客服受理",
        "包装破损，杯子摔碎了",
        "提交了投诉",
        "补充信息",
        "撤销投诉",
    ):
        assert shown in html, shown
    assert "评价本次服务" not in html
    assert (await shop.client.get("/c/static/customer.css")).status == 200
    cover = await shop.client.get("/c/static/cover.png")
    assert cover.status == 200 and (await cover.read()).startswith(b"\x89PNG")


async def test_a_tampered_expired_or_foreign_link_is_refused(shop: Shop):
    path = await _complain(shop)
    token = path.rsplit("/", 1)[1]
    body, mac = token.split(".")
    tampered = f"/c/{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    for bad in (tampered, f"/c/{body}.{mac[:-1]}x", f"/c/{body}.{'A' * 43}"):
        html = await _page(shop, bad, 403)
        assert "链接无效或已过期" in html and NUMBER not in html
    # Another customer's genuine link cannot open this complaint.
    secret = shop.service.rt.link_secret
    foreign = make_token(secret, "complaint", customer_id=999, number=NUMBER, now=shop.clock.now())
    assert "不属于您" in await _page(shop, f"/c/{foreign}", 403)
    # A form link is not a complaint link.
    form = make_token(secret, "form", customer_id=1, now=shop.clock.now())
    assert "链接无效或已过期" in await _page(shop, f"/c/{form}", 403)
    # After 30 days the card's own link has expired.
    shop.clock.advance(days=30, seconds=1)
    assert "链接无效或已过期" in await _page(shop, path, 403)


async def test_more_information_with_a_photo_restarts_a_paused_clock(shop: Shop):
    path = await _complain(shop)
    await shop.act("xiaomei", ActionKind.ACCEPT, NUMBER)
    async with shop.db.write() as session:
        paused = await shop.service.sla.pause(
            session, NUMBER, actor="person:xiaomei", reason="请提供破损照片"
        )
    assert paused > 0
    html = await _page(shop, path)
    assert "我们正在等待您补充信息" in html

    fields = {**_guard(html), "text": "照片已拍好，外箱也有破损"}
    response = await _post(shop, f"{path}/more", fields, [("photos", "box.png", PNG)])
    assert response.status == 303
    assert response.headers["Location"] == f"{path}?done=more"
    html = await _page(shop, f"{path}?done=more")
    assert "已收到您补充的信息" in html and "补充信息：照片已拍好，外箱也有破损" in html
    assert "我们正在等待您补充信息" not in html
    async with shop.db.read() as session:
        timers = (await session.scalars(select(Timer))).all()
        photo = await session.scalar(select(Attachment))
    assert timers and all(t.status != "paused" for t in timers)
    assert (photo.kind, photo.content_type, photo.size) == ("image", "image/png", len(PNG))
    assert ("customer", "评论：照片已拍好，外箱也有破损") in await shop.timeline(NUMBER)
    assert ("customer", "客户已补充信息，恢复计时") in await shop.timeline(NUMBER)
    shown = await shop.client.get(f"{path}/photos/{photo.id}")
    assert shown.status == 200 and await shown.read() == PNG


async def test_a_post_without_its_page_token_changes_nothing(shop: Shop):
    path = await _complain(shop)
    html = await _page(shop, path)
    guard = _guard(html)
    before = await shop.row_counts()
    attempts = [
        {"text": "没有令牌"},
        {**guard, "csrf": "0" * 64, "text": "伪造的令牌"},
        {**guard, "form_id": "x" * 22, "text": "换了表单号"},
    ]
    for fields in attempts:
        response = await _post(shop, f"{path}/more", fields)
        assert response.status == 403
        assert "页面已过期" in await response.text()
    # Another browser (no cookie) replaying a real page's fields is refused too.
    async with aiohttp.ClientSession() as stranger:
        url = shop.client.make_url(f"{path}/cancel")
        async with stranger.post(url, data={**guard, "confirm": "yes"}) as response:
            assert response.status == 403
    assert await shop.row_counts() == before


async def test_a_double_tapped_button_counts_once(shop: Shop):
    path = await _complain(shop)
    fields = {**_guard(await _page(shop, path)), "text": "请尽快联系我"}
    for _ in range(2):
        assert (await _post(shop, f"{path}/more", fields)).status == 303
    async with shop.db.read() as session:
        comments = (await session.scalars(select(Comment))).all()
    assert [c.text for c in comments] == ["请尽快联系我"]


async def test_the_customer_withdraws_the_complaint(shop: Shop):
    path = await _complain(shop)
    guard = _guard(await _page(shop, path))
    unconfirmed = await _post(shop, f"{path}/cancel", {**guard, "reason": "已自行解决"})
    assert unconfirmed.status == 400 and "请勾选“确认撤销”" in await unconfirmed.text()
    fields = {**_guard(await _page(shop, path)), "reason": "已自行解决", "confirm": "yes"}
    assert (await _post(shop, f"{path}/cancel", fields)).status == 303
    complaint = await shop.complaint(NUMBER)
    assert complaint.status == "cancelled"
    html = await _page(shop, f"{path}?done=cancel")
    assert "已撤销" in html and "您的投诉已撤销" in html
    assert 'action="' + path + '/more"' not in html and "撤销投诉</summary>" not in html
    assert ("customer", "投诉已撤销") in await shop.timeline(NUMBER)


async def _close(shop: Shop) -> None:
    await shop.act("xiaomei", ActionKind.ACCEPT, NUMBER)
    await shop.act("xiaomei", ActionKind.SUBMIT, NUMBER)
    await shop.act("lisi", ActionKind.ACCEPT, NUMBER)
    await shop.act("lisi", ActionKind.SUBMIT, NUMBER, solution="补发新杯", compensation=0)
    await shop.act("xiaomei", ActionKind.ACCEPT, NUMBER)
    await shop.act("xiaomei", ActionKind.SUBMIT, NUMBER)


async def test_the_customer_rates_on_the_page_once(shop: Shop):
    path = await _complain(shop)
    await _close(shop)
    html = await _page(shop, path)
    assert "评价本次服务" in html and "已关闭" in html
    guard = _guard(html)
    no_score = await _post(shop, f"{path}/rate", {**guard, "comment": "还行"})
    assert no_score.status == 400 and "请选择 1 到 5 颗星" in await no_score.text()
    fields = {**_guard(await _page(shop, path)), "score": "4", "comment": "处理及时"}
    assert (await _post(shop, f"{path}/rate", fields)).status == 303
    assert (await _post(shop, f"{path}/rate", fields)).status == 303  # the double tap
    html = await _page(shop, f"{path}?done=rate")
    assert "感谢您的评价" in html and "★★★★☆" in html and "评价本次服务" not in html
    async with shop.db.read() as session:
        answers = (await session.scalars(select(SurveyAnswer))).all()
        conversation = await session.scalar(select(Conversation))
    assert [(a.score, a.comment) for a in answers] == [(4, "处理及时")]
    # The chat no longer takes the next message for a score.
    assert "survey" not in conversation.state
    timeline = await shop.timeline(NUMBER)
    assert timeline.count(("rule:评价后通知客服主管", f"通知 张三：客户评价了投诉 {NUMBER}")) == 1
    # A stale page posting another rating is told why it is refused.
    late = await _post(shop, f"{path}/rate", {**guard, "score": "1"})
    assert late.status == 409 and "已经评价过了" in await late.text()
    assert await _count(shop, SurveyAnswer) == 1


async def _form_link(shop: Shop) -> str:
    reply = await shop.click("FORM")
    url = re.search(r'<a href="([^"]+)">在线填表</a>', reply).group(1)
    assert url.startswith(f"{PUBLIC_URL}/c/form?t=")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_menus_form_link_shows_field_errors_in_chinese(shop: Shop):
    link = await _form_link(shop)
    html = await _page(shop, link)
    for label in ("客户姓名", "联系电话", "投诉类型", "订单号", "问题描述", "相关图片/视频"):
        assert label in html, label
    assert "投诉渠道" not in html  # not asked of customers
    assert 'data-show-when="type"' in html  # 订单号 only for 产品质量 / 物流问题
    fields = {**_guard(html), "customer_name": "王小明", "phone": "1391234", "description": "坏"}
    response = await _post(shop, link, fields)
    html = await response.text()
    assert response.status == 400
    assert "手机号格式不正确，请输入11位手机号" in html
    assert "请选择投诉类型" in html
    assert "至少" in html  # 问题描述 too short
    assert 'value="王小明"' in html  # what was typed stays
    assert await _count(shop, Complaint) == 0
    # Tampered or wrong-purpose tokens get the 403 page.
    assert "链接无效或已过期" in await _page(shop, link[:-3] + "abc", 403)


async def test_the_form_creates_one_complaint_with_its_photo(shop: Shop):
    link = await _form_link(shop)
    html = await _page(shop, link)
    fields = {
        **_guard(html),
        "customer_name": "李小红",
        "phone": "13800138000",
        "type": "产品质量",
        "order_no": "202611230009",
        "description": "收到的杯子有裂缝，一倒水就漏",
    }
    files = [("media", "cup.png", PNG)]
    first = await _post(shop, link, fields, files)
    assert first.status == 303, await first.text()
    again = await _post(shop, link, fields, files)  # the double tap
    assert again.status == 303 and again.headers["Location"] == first.headers["Location"]
    page = first.headers["Location"]
    assert page.startswith("/c/") and page.endswith("?done=created")
    html = await _page(shop, page)
    assert NUMBER in html and "投诉已提交" in html and "收到的杯子有裂缝" in html
    async with shop.db.read() as session:
        complaint = await session.scalar(select(Complaint))
        photos = (await session.scalars(select(Attachment))).all()
    assert complaint.values["customer_name"] == "李小红" and complaint.values["type"] == "产品质量"
    assert complaint.values["source"] == "微信公众号" and complaint.channel == "service"
    assert [(p.complaint_id, p.kind) for p in photos] == [(complaint.id, "image")]
    assert complaint.values["media"] == [
        {"attachment_id": str(photos[0].id), "kind": "image", "name": "cup.png"}
    ]
    # The card arrives in chat too; the next form knows the customer.
    await shop.deliver()
    assert shop.seen(OPENID)[-1].text.startswith(f"投诉 {NUMBER}：待受理")
    html = await _page(shop, await _form_link(shop))
    assert 'value="李小红"' in html and 'value="13800138000"' in html
