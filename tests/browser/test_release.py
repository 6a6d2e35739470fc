"""The release page in Chromium: the gateway's GenerateBulletin for the period chosen,
previewed as HTML with whatever the text holds escaped, and downloaded as the very text the
gateway wrote (Markdown or plain), as an attachment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from playwright.async_api import expect

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.clock import ManualClock
from tests.browser.conftest import WAIT_MS, Dashboard, screenshot
from tests.service.gateway.helpers import Recorder

pytestmark = pytest.mark.browser
C = "netnet-2021"
HOSTILE = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


def midnight(day: str) -> Timestamp:
    return Timestamp(seconds=int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()))


async def test_release_preview_and_downloads_are_the_bulletin(
    dashboard: Dashboard, clock: ManualClock, tmp_path: Path
) -> None:
    rec = Recorder(dashboard.stack, dashboard.tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    for i in range(3):
        await rec.account("cac", f"u{i}", apb.ACTION_TYPE_BAN, C)
    case = await rec.case("mps", "5·11", cpb.CASE_KIND_CRIMINAL, C, gains_fen=200_000_000)
    await rec.typical(case.name, "The 5·11 case", "Quanjiao, Anhui", f"Suspect Zhu XX. {HOSTILE}")
    md = dashboard.tokens("office", "analyst")

    # The release in the page's language: Chinese by default.
    page = await dashboard.signed_in("office", "analyst")
    await page.click("nav.campaign a[href$='/release']")
    article = page.locator("#release")
    zh = await dashboard.stack.gateway.generate_bulletin(
        campaign_id=C, language="zh-CN", metadata=md
    )
    await expect(article.locator("h1")).to_have_text(zh.text.splitlines()[0].removeprefix("# "))
    assert "处置违法违规账号3个" in await article.inner_text()
    assert HOSTILE in await article.inner_text()  # shown as text
    assert await article.locator("script, img").count() == 0
    assert await page.title() != "owned"
    await screenshot(page, "release-zh")

    whole = await dashboard.stack.gateway.generate_bulletin(campaign_id=C, metadata=md)
    for link, fmt, suffix in (
        ("#download-markdown", pb.BULLETIN_FORMAT_MARKDOWN, "md"),
        ("#download-text", pb.BULLETIN_FORMAT_TEXT, "txt"),
    ):
        async with page.expect_download(timeout=WAIT_MS) as info:
            await page.click(link)
        download = await info.value
        assert download.suggested_filename == f"{C}-release.{suffix}"
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        expected = await dashboard.stack.gateway.generate_bulletin(
            campaign_id=C, format=fmt, language="zh-CN", metadata=md
        )
        assert saved.read_text(encoding="utf-8") == expected.text
    assert whole.text.startswith("# Net Net 2021")  # English where no language is asked for

    # A period of the user's: its first and last days both included.
    await page.fill("input[name=start]", "2021-07-01")
    await page.fill("input[name=end]", "2021-07-01")
    await page.click("#period button[type=submit]")
    await page.wait_for_url("**start=2021-07-01&end=2021-07-01", timeout=WAIT_MS)
    dated = await dashboard.stack.gateway.generate_bulletin(
        campaign_id=C,
        start_time=midnight("2021-07-01"),
        end_time=midnight("2021-07-02"),
        language="zh-CN",
        metadata=md,
    )
    assert "2021年7月1日" in dated.text and "2021年7月2日" not in dated.text
    assert "2021年7月1日" in await article.inner_text()
    async with page.expect_download(timeout=WAIT_MS) as info:
        await page.click("#download-markdown")
    saved = tmp_path / "dated.md"
    await (await info.value).save_as(saved)
    assert saved.read_text(encoding="utf-8") == dated.text

    await page.fill("input[name=start]", "2021-07-02")
    await page.click("#period button[type=submit]")
    await expect(page.locator("#bad-period")).to_be_visible()

    # In English, the English release.
    english = await dashboard.signed_in("office", "analyst", lang="en")
    await english.goto(f"{dashboard.url}campaigns/{C}/release")
    await expect(english.locator("#release h1")).to_have_text("Net Net 2021: results so far")
    assert "3 accounts" in await english.locator("#release").inner_text()
