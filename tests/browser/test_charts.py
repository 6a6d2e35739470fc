"""The charts page in Chromium: Chart.js, served by the dashboard itself (no request leaves
the site), draws per chart a stacked bar per department and day and the day's total, with
the values of the gateway's GetCampaignSeries; days between without records are zero."""

from __future__ import annotations

import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from services.common.reference import DEFAULT_CONFIG_DIR, load
from tests.browser.conftest import WAIT_MS, Dashboard, screenshot
from tests.service.gateway.helpers import Recorder
from tests.support.rpc import sha

pytestmark = pytest.mark.browser
C = "netnet-2021"
DAY = 86400
CHARTS = {  # chart -> the figures it sums
    "accounts": ("accounts_handled",),
    "groups": ("groups_handled",),
    "content_direct": ("content_direct",),
    "content_platform": ("content_platform",),
    "websites": ("sites_banned_or_closed",),
    "apps_notified": ("apps_notified",),
    "apps_removed": ("apps_removed",),
    "cases": ("cases_administrative", "cases_criminal"),
}


async def seed(rec: Recorder, clock: ManualClock) -> None:
    await rec.campaign(C, "“净网2021”集中行动")
    for day, n in enumerate((3, 0, 5, 2)):  # the second day: nothing at all
        for i in range(n):
            await rec.account("cac", f"u{day}-{i}", apb.ACTION_TYPE_BAN, C)
            await rec.content("cac", "v.example.com", sha(f"{day}-{i}"), spb.HANDLER_DIRECT, C)
        if n:
            await rec.account(
                "mps", f"g{day}", apb.ACTION_TYPE_CLOSE_GROUP, C, kind=apb.ACCOUNT_KIND_GROUP
            )
            await rec.site("mct", f"site{day}.example.com", spb.SITE_ACTION_TYPE_CLOSE, C)
            await rec.content("nrta", "tv.example.com", sha(f"p{day}"), spb.HANDLER_PLATFORM, C)
            await rec.case("mps", f"{day}·01", cpb.CASE_KIND_CRIMINAL, C)
            await rec.site(
                "miit",
                f"com.app.d{day}",
                spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
                C,
                kind=spb.SITE_KIND_APP,
            )
        clock.advance(DAY)


async def test_charts_draw_the_series_per_department_and_in_total(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await seed(Recorder(dashboard.stack, dashboard.tokens, clock), clock)
    page = await dashboard.signed_in("office", "analyst")
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.click("nav.campaign a[href$='/charts']")
    await page.wait_for_function(
        "() => typeof Chart !== 'undefined' && document.querySelectorAll('canvas').length === 8 && "
        "[...document.querySelectorAll('canvas')].every(c => Chart.getChart(c))",
        timeout=WAIT_MS,
    )
    drawn = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('canvas')].map(c => {
            const chart = Chart.getChart(c);
            return [c.id.replace('chart-', ''), {days: chart.data.labels,
                sets: chart.data.datasets.map(d => [d.type, d.label, d.data])}];
        }))"""
    )
    series = await dashboard.stack.gateway.get_campaign_series(
        query=pb.GetCampaignStatusRequest(campaign_id=C),
        metadata=dashboard.tokens("office", "analyst"),
    )
    days = [d.day for d in series.days]
    assert len(days) == 3 and set(CHARTS) == set(drawn)
    for key, figures in CHARTS.items():
        chart = drawn[key]
        assert chart["days"][0] == days[0] and chart["days"][-1] == days[-1]
        assert len(chart["days"]) == 4  # the day without records is drawn, as zero
        *bars, total = chart["sets"]
        zh = load(DEFAULT_CONFIG_DIR).names("departments", "zh-CN")
        assert [b[1] for b in bars] == [zh[d] for d in ("cac", "miit", "mps", "mct", "nrta")]
        assert all(b[0] == "bar" for b in bars) and total[:2] == ["line", "合计"]
        for day in series.days:
            at = chart["days"].index(day.day)
            assert total[2][at] == sum(getattr(day.total, f) for f in figures), (key, day.day)
            for bar, d in zip(bars, day.departments, strict=True):
                assert bar[2][at] == sum(getattr(d.figures, f) for f in figures), (
                    key,
                    d.department,
                )
        gap = next(i for i, day in enumerate(chart["days"]) if day not in days)
        assert total[2][gap] == 0 and all(b[2][gap] == 0 for b in bars)
    assert drawn["accounts"]["sets"][-1][2] == [3, 0, 5, 2]
    assert all(url.startswith(dashboard.url) for url in requested), requested  # no CDN
    assert any(url.endswith("/static/vendor/chart.umd.js") for url in requested)
    assert not problems, problems
    await screenshot(page, "charts-zh")
