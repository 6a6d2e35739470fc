"""Need-to-know in the browser: a department's operator sees on every page of the dashboard
what gRPC gives that token, and no real name of another department's suspect, however the
pages put the campaign together."""

from __future__ import annotations

import pytest

from netnet.cases.v1 import cases_pb2 as cpb
from services.common.clock import ManualClock
from tests.browser.conftest import Dashboard, cells, expected, on_page, screenshot
from tests.service.gateway.helpers import Recorder

pytestmark = pytest.mark.browser
C = "netnet-2021"
REAL_NAMES = ("蒋明华", "Zhu Dawei")


async def seed(rec: Recorder) -> None:
    """A public security case (Jinhua) with two suspects under their real names, the summary
    published about it, and records of cac's own."""
    await rec.campaign(C, "“净网2021”集中行动", [("minors", "整治未成年人网络环境")])
    case = await rec.case(
        "mps", "JH-1", cpb.CASE_KIND_CRIMINAL, C, "minors", gains_fen=3_600_000_000
    )
    for name in REAL_NAMES:
        party = await rec.party(case.name, name, "principal culprit")
        await rec.measure(party.name, cpb.MEASURE_CRIMINAL_DETENTION)
    await rec.typical(
        case.name,
        "浙江金华查办“工匠风”网站传播淫秽物品案",
        "浙江金华",
        "主犯蒋某某被判处有期徒刑6年。Suspect Zhu XX ran the site.",
    )
    await rec.case("cac", "C-1", cpb.CASE_KIND_ADMINISTRATIVE, C)


async def test_a_department_sees_what_its_token_reads_and_no_real_names(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await seed(Recorder(dashboard.stack, dashboard.tokens, clock))
    page = await dashboard.signed_in("cac", "operator")
    status = await dashboard.status(C, "cac")
    assert on_page(await cells(page, "by-department")) == expected(
        {**{d.department: d.figures for d in status.departments}, "total": status.total}
    )
    assert status.total.suspects_detained == 2  # the figures are there, the names are not
    pages = [page.url] + [
        dashboard.url.rstrip("/") + href
        for href in await page.eval_on_selector_all(
            "nav.campaign a", "links => links.map(a => a.getAttribute('href'))"
        )
    ]
    for url in pages:
        await page.goto(url)
        html = await page.content()
        assert not [n for n in REAL_NAMES if n in html], url
    await page.goto(pages[0])
    await screenshot(page, "overview-cac")
