"""The deadlines and typical-case pages in Chromium: what they list is what the gateway's
ListDeadlines and ListTypicalCases give the signed-in token, with the deadlines shown."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from netnet.cases.v1 import cases_pb2 as cpb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.browser.conftest import Dashboard, screenshot
from tests.service.cases.test_handovers import record_clue, transfer
from tests.service.gateway.helpers import Recorder

pytestmark = pytest.mark.browser
C = "netnet-2021"
DAY = 86400


async def test_deadlines_show_overdue_apps_and_waiting_handovers(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    stack, tokens = dashboard.stack, dashboard.tokens
    rec = Recorder(stack, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    app = spb.SITE_KIND_APP
    await rec.site("miit", "com.late.app", spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION, C, kind=app)
    cac = tokens("cac")
    first = await record_clue(stack.cases, cac, "c1", "cac", campaign_id=C)
    late = await transfer(stack.cases, cac, "t1", first.name, "mps")
    clock.advance(31 * DAY)  # the notice (30 days) and the first hand-over (3 days) are late
    second = await record_clue(stack.cases, cac, "c2", "cac", campaign_id=C)
    waiting = await transfer(stack.cases, cac, "t2", second.name, "mct")

    page = await dashboard.signed_in("cac", "operator")
    await page.click("nav.campaign a[href$='/deadlines']")
    reply = await stack.gateway.list_deadlines(metadata=cac)
    rows = page.locator("#handovers tbody tr")
    await expect(rows).to_have_count(len(reply.handovers))
    assert [await r.get_attribute("data-handover") for r in await rows.all()] == [
        late.name,
        waiting.name,
    ]
    assert "已逾期" in await rows.nth(0).inner_text() and "待签收" in await rows.nth(1).inner_text()
    assert "2021-07-04 00:00:00 UTC" in await rows.nth(0).inner_text()  # sent 07-01, 3 days
    sites = page.locator("#overdue-sites tbody tr")
    await expect(sites).to_have_count(1)
    text = await sites.nth(0).inner_text()
    assert "com.late.app" in text and "App" in text and "工业和信息化部" in text
    assert "2021-07-31" in text
    await screenshot(page, "deadlines-zh")

    office = await dashboard.signed_in("office", "analyst")
    await office.click("nav.campaign a[href$='/deadlines']")
    await expect(office.locator("#no-handovers")).to_be_visible()  # not the office's own


async def test_typical_cases_are_listed_as_published(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    rec = Recorder(dashboard.stack, dashboard.tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    for n, (title, region) in enumerate(
        (("浙江金华“工匠风”网站传播淫秽物品案", "浙江金华"), ("安徽全椒“5·11”案", "安徽全椒"))
    ):
        case = await rec.case("mps", f"{n}·01", cpb.CASE_KIND_CRIMINAL, C)
        await rec.typical(case.name, title, region, f"犯罪嫌疑人朱某某等被依法刑事拘留（{n}）。")
    page = await dashboard.signed_in("nrta", "operator")
    await page.click("nav.campaign a[href$='/typical']")
    listed = [
        t
        async for t in await dashboard.stack.gateway.list_typical_cases(
            campaign_id=C, metadata=dashboard.tokens("nrta")
        )
    ]
    articles = page.locator("article.typical")
    await expect(articles).to_have_count(2)
    for article, typical in zip(await articles.all(), listed, strict=True):
        assert await article.get_attribute("data-typical") == typical.name
        assert await article.locator("h3").inner_text() == typical.title
        assert typical.summary in await article.inner_text()
    await screenshot(page, "typical-zh")
