"""The overview in Chromium: signed in with an office analyst's token, its figures are the
gateway's GetCampaignStatus, and an import made through the SDK shows on the open page
without a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.browser.conftest import (
    WAIT_MS,
    Dashboard,
    cells,
    expected,
    monotonic_ms,
    on_page,
    screenshot,
)
from tests.service.gateway.helpers import Recorder

pytestmark = pytest.mark.browser
C = "netnet-2021"


async def seed(rec: Recorder) -> None:
    await rec.campaign(C, "“净网2021”集中行动", [("minors", "整治未成年人网络环境")])
    await rec.account("cac", "u1", apb.ACTION_TYPE_BAN, C, "minors")
    await rec.account("cac", "g1", apb.ACTION_TYPE_CLOSE_GROUP, C, kind=apb.ACCOUNT_KIND_GROUP)
    await rec.account("mps", "u2", apb.ACTION_TYPE_WARN, C)
    await rec.site("cac", "example-porn.com", spb.SITE_ACTION_TYPE_CLOSE, C, "minors")
    await rec.site(
        "miit", "com.bad.app1", spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION, C, kind=spb.SITE_KIND_APP
    )
    await rec.case("mps", "5·11", cpb.CASE_KIND_CRIMINAL, C, "minors", gains_fen=200_000_012)
    await rec.case("mct", "M-1", cpb.CASE_KIND_ADMINISTRATIVE, C)


def imported(n: int, special_action: str = "", first: int = 0) -> apb.ImportActionsRequest:
    return apb.ImportActionsRequest(
        actions=[
            apb.ActionInput(
                request_id=f"import-{i}",
                special_action=special_action,
                account=apb.AccountRef(
                    platform="douyin", platform_uid=f"live-{i}", kind=apb.ACCOUNT_KIND_USER
                ),
                action=apb.ACTION_TYPE_BAN,
                category="obscene",
                department="cac",
                campaign_id=C,
            )
            for i in range(first, first + n)
        ]
    )


async def test_figures_are_the_status_and_follow_an_import_live(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await seed(Recorder(dashboard.stack, dashboard.tokens, clock))
    page = await dashboard.signed_in("office", "analyst")
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    status = await dashboard.status(C)
    by_department = {d.department: d.figures for d in status.departments}
    assert list(by_department) == ["cac", "miit", "mps", "mct"]
    assert on_page(await cells(page, "by-department")) == expected(
        {**by_department, "total": status.total}
    )
    assert await page.locator("#by-department th[data-column=cac]").inner_text() == "网信部门"
    assert "合计" in await page.locator("#by-department thead").inner_text()
    assert await page.locator("#sources tbody tr").count() == 3
    await screenshot(page, "overview-zh")

    total = page.locator('#by-department td[data-cell="total:accounts_handled"]')
    cac = page.locator('#by-department td[data-cell="cac:accounts_handled"]')
    before = status.total.accounts_handled
    await expect(total).to_have_text(f"{before:,}")
    as_of = await page.locator("#as-of").inner_text()
    clock.advance(60)
    started = monotonic_ms()
    reply = await dashboard.stack.accounts.import_actions(
        [imported(5)], metadata=dashboard.tokens("cac")
    )
    assert reply.summary.accepted == 5
    await expect(total).to_have_text(f"{before + 5:,}", timeout=WAIT_MS)
    print(f"the page showed the import {monotonic_ms() - started:.0f} ms after it was sent")
    await expect(cac).to_have_text(f"{by_department['cac'].accounts_handled + 5:,}")
    headline = page.locator("#headline [data-total=accounts_handled]")
    await expect(headline).to_have_text(f"{before + 5:,}")
    assert await page.locator("#as-of").inner_text() != as_of
    after = await dashboard.status(C)
    assert on_page(await cells(page, "by-department")) == expected(
        {**{d.department: d.figures for d in after.departments}, "total": after.total}
    )
    assert await page.locator("#connection").inner_text() == "实时更新中"

    # The special actions: a live page of their own.
    await page.click("nav.campaign a[href$='/special-actions']")
    assert on_page(await cells(page, "by-special-action")) == expected(
        {s.special_action: s.figures for s in after.special_actions}
    )
    minors = page.locator('#by-special-action td[data-cell="minors:accounts_handled"]')
    await expect(minors).to_have_text("1")
    await dashboard.stack.accounts.import_actions(
        [imported(2, special_action="minors", first=100)], metadata=dashboard.tokens("cac")
    )
    await expect(minors).to_have_text("3", timeout=WAIT_MS)


async def test_language_switch_shows_english_labels_and_is_remembered(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await seed(Recorder(dashboard.stack, dashboard.tokens, clock))
    page = await dashboard.signed_in("office", "analyst")
    assert await page.locator("#lang-switch").inner_text() == "English"
    await page.click("#lang-switch")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url.endswith(f"/campaigns/{C}")  # back on the same page
    head = await page.locator("#by-department thead").inner_text()
    assert "Total" in head and "Cyberspace affairs departments" in head
    body = await page.locator("#by-department tbody").inner_text()
    assert "Accounts handled" in body and "处置账号" not in body
    await expect(page.locator("#connection")).to_have_text("Live", timeout=WAIT_MS)
    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await screenshot(page, "overview-en")
    await page.click("#lang-switch")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
