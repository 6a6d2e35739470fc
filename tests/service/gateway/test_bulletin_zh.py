"""The campaign release in Chinese (language zh-CN), from the same live data as the English
one: its figures are the status's, written as Chinese releases write them; "据不完全统计"
exactly when a source did not answer; departments by their Chinese names with the measures
they issued; each typical case headed by its place. Existing callers (no language) get the
English release, unchanged; an unknown language is refused, naming the field."""

from __future__ import annotations

import grpc
import pytest

from gateway import servicer
from netnet.cases.v1 import campaigns_pb2 as mpb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.clock import ManualClock
from services.common.config import reference
from services.common.numerals import zh_number
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.service.gateway.test_bulletin import NAME_PARTS, REAL_NAMES, SPECIALS, C, seed
from tests.support.oracles import expect_status
from tests.support.rpc import DAY_US, bad_fields, expect_error, ts
from tests.support.servers import Tokens

ZH = reference({}).names("departments", "zh-CN")
NOTICE = "关于进一步严格管理切实防止未成年人沉迷网络游戏的通知"
FAN_MEASURES = "整治“饭圈”乱象十项措施"
INSPECTION = "各类应用软件及平台专项检查"


async def measure(
    rec: Recorder, department: str, kind: int, title: str, days_ago: int, special: str = ""
) -> mpb.MeasureIssued:
    reply = await rec.api.campaigns.record_measure_issued(
        mpb.RecordMeasureIssuedRequest(
            request_id=rec.rid("measure-issued"),
            parent=f"campaigns/{C}",
            measure_issued=mpb.MeasureIssued(
                title=title,
                department=department,
                kind=kind,  # type: ignore[arg-type]
                issue_time=ts(rec.clock.now_us() - days_ago * DAY_US),
                special_action=special,
            ),
        ),
        metadata=rec.md(department),
    )
    return reply.measure_issued


async def seed_zh(rec: Recorder) -> tuple[list[cpb.TypicalCase], list[mpb.MeasureIssued]]:
    """The English bulletin's records, press and publication joining the campaign, the
    measures three departments issued, and two typical cases written in Chinese."""
    typical = await seed(rec)
    campaign = (
        await rec.api.campaigns.get_campaign(name=f"campaigns/{C}", metadata=rec.md("office"))
    ).campaign
    await rec.api.campaigns.update_campaign(
        mpb.UpdateCampaignRequest(
            request_id=rec.rid("join"),
            campaign=mpb.Campaign(
                name=campaign.name,
                etag=campaign.etag,
                participating_departments=[*campaign.participating_departments, "nppa"],
            ),
            update_mask={"paths": ["participating_departments"]},
        ),
        metadata=rec.tokens("office", "admin"),
    )
    measures = [
        await measure(rec, "nppa", mpb.MEASURE_ISSUED_KIND_NOTICE, NOTICE, 2),
        await measure(rec, "cac", mpb.MEASURE_ISSUED_KIND_MEASURES, FAN_MEASURES, 9, "fan-circle"),
        await measure(rec, "miit", mpb.MEASURE_ISSUED_KIND_INSPECTION, INSPECTION, 20),
    ]
    crim = cpb.CASE_KIND_CRIMINAL
    jinhua = await rec.case("mps", "JH-2021-01", crim, C, region="330700")
    await rec.party(jinhua.name, "江伟明", "主犯")
    elsewhere = await rec.case("mps", "NJ-1", crim, C, region="320100")  # no place name for it
    typical += [
        await rec.typical(
            jinhua.name,
            "查处“匠心”网站传播淫秽物品案",
            "浙江金华",
            "经查，涉案人员以“资料”“国模”“高清”等关键词在网购平台招揽客户。",
            "主犯江某某被依法判处有期徒刑。",
        ),
        await rec.typical(elsewhere.name, "侦破某网络侵犯著作权案", "江苏南京", "经查……"),
    ]
    return typical, sorted(measures, key=lambda m: m.issue_time.ToMicroseconds())


@pytest.fixture
async def seeded(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]]:
    rec = Recorder(stack, tokens, clock)
    typical, measures = await seed_zh(rec)
    return rec, typical, measures


async def bulletin(
    rec: Recorder, fmt: int, language: str = "zh-CN", **more: object
) -> pb.GenerateBulletinResponse:
    return await rec.api.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id=C, format=fmt, language=language, **more),  # type: ignore[arg-type]
        metadata=rec.md("office"),
        timeout=10,
    )


def headline_phrases(t: pb.Figures) -> list[str]:
    """The headline's parts, the status's exact figures written as Chinese releases do."""
    n = zh_number
    return [
        f"查处涉网行政和刑事案件{n(t.cases_administrative + t.cases_criminal)}起",
        f"对{n(t.suspects_detained)}名犯罪嫌疑人采取刑事拘留措施",
        f"逮捕犯罪嫌疑人{n(t.suspects_arrested)}名",
        f"处置低俗有害信息{n(t.content_direct)}条",
        f"封禁、关闭网站{n(t.sites_banned_or_closed)}个（其中关闭{n(t.sites_closed)}个、"
        f"封禁{n(t.sites_banned)}个）",
        f"通报问题App {n(t.notice_batches)}批",
        f"责令{n(t.apps_notified)}款App限期整改",
        f"下架App {n(t.apps_removed)}款",
        f"督促网站平台清理低俗有害信息{n(t.content_platform)}条",
        f"处置违法违规账号{n(t.accounts_handled)}个",
        f"关闭问题群组{n(t.groups_closed)}个",
    ]


async def test_the_release_in_chinese(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]],
) -> None:
    rec, typical, measures = seeded
    md_reply = await bulletin(rec, pb.BULLETIN_FORMAT_MARKDOWN)
    text_reply = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT, "zh-cn")  # tags ignore case
    assert md_reply.language == text_reply.language == "zh-CN"
    assert list(md_reply.measures_issued) == measures

    # The exact figures behind the text are in the status, and they are the ledger's.
    status = md_reply.status
    expect_status(status, rec.ledger, C, titles=SPECIALS)
    total = status.total
    assert (total.accounts_handled, total.content_direct, total.content_platform) == (
        4_861,
        1_234,
        2_050,
    )

    for reply, markdown in ((md_reply, True), (text_reply, False)):
        text = reply.text
        lines = text.split("\n")
        assert lines[0] == ("# " if markdown else "") + "Net Net 2021工作进展"
        headline = lines[2]
        assert (
            headline.startswith(f"{status.start_time.ToDatetime():%Y}年")
            and "，各执法监管部门查处涉网" in headline
        ), headline
        for phrase in headline_phrases(total):
            assert phrase in headline, (phrase, headline)
        assert "处置违法违规账号4800余个" in headline and "处置低俗有害信息1200余条" in headline
        assert headline.endswith("。")
        assert "据不完全统计" not in text  # every source answered

        # A paragraph per department with figures or measures issued, by its Chinese name,
        # in the deployment's order; the measures first.
        bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
        paragraphs = {code: [x for x in lines if x.startswith(bold(ZH[code]))] for code in ZH}
        assert {c for c, found in paragraphs.items() if found} == {
            "cac",
            "miit",
            "mps",
            "mct",
            "nppa",
        }
        assert all(len(found) <= 1 for found in paragraphs.values())
        (cac,) = paragraphs["cac"]
        assert cac.startswith(f"{bold('网信部门')}出台{FAN_MEASURES}，") and cac.endswith("。")
        assert "处置违法违规账号4800余个" in cac and "关闭网站5个" in cac
        (miit,) = paragraphs["miit"]
        assert miit.startswith(f"{bold('工业和信息化部')}开展{INSPECTION}，")
        assert paragraphs["nppa"] == [f"{bold('新闻出版部门')}印发《{NOTICE}》。"]
        (mps,) = paragraphs["mps"]
        assert "查处涉网刑事案件5起" in mps and "对2名犯罪嫌疑人采取刑事拘留措施" in mps
        order = [lines.index(paragraphs[c][0]) for c in ("cac", "miit", "mps", "mct", "nppa")]
        assert order == sorted(order)

        # The special actions with records, by title.
        assert ("## 专项行动" in text) is markdown
        for sa in ("minors", "fan-circle"):
            assert f"- {SPECIALS[sa]}：" in text
        assert SPECIALS["games"] not in text

        # The typical cases, each headed by its place: from reference data for its region
        # code, else as its text gives it.
        assert f"现公布{len(typical)}起典型案例。" in text
        mark = "### " if markdown else "——"
        headings = [x.removeprefix(mark) for x in lines if x.startswith(mark)]
        assert headings == [
            "Quanjiao, Anhui：" + typical[0].title,
            "Jinhua, Zhejiang：" + typical[1].title,
            "浙江金华查处“匠心”网站传播淫秽物品案",
            "江苏南京侦破某网络侵犯著作权案",
        ]
        for t in typical:
            assert t.summary in text and (not t.outcome or t.outcome in text)
        assert "A case of another campaign" not in text

        # No real name, whole or in part, anywhere.
        for name in (*REAL_NAMES, *NAME_PARTS, "江伟明", "伟明"):
            assert name.casefold() not in text.casefold(), name


async def test_incomplete_figures_are_said_to_be(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]], stack: Stack
) -> None:
    rec, _, _ = seeded
    await stack.servers["accounts"].stop(0)
    reply = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT)
    assert not reply.status.complete
    lines = reply.text.split("\n")
    assert lines[2].startswith("据不完全统计，") and reply.text.count("据不完全统计") == 1
    assert "账号" not in lines[2] and "问题群组" not in reply.text
    assert "（账号处置数据在撰稿时未能取得，未计入本通报。）" in lines
    assert "关闭网站5个" in reply.text and "现公布4起典型案例" in reply.text


async def test_existing_callers_get_the_english_release(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]],
) -> None:
    rec, _, _ = seeded
    default = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT, "")
    english = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT, "en")
    assert default.language == english.language == "en"
    assert default.text == english.text and default.text.startswith("Net Net 2021: results so far")
    assert f'Press and publication departments issued "{NOTICE}".' in default.text
    assert f"Cyberspace affairs departments introduced {FAN_MEASURES}, banned" in default.text


async def test_measures_of_the_period_only(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]],
) -> None:
    rec, _, measures = seeded
    end = rec.clock.now_us() - 5 * DAY_US  # before the notice, after the others
    reply = await bulletin(
        rec, pb.BULLETIN_FORMAT_TEXT, start_time=ts(end - 60 * DAY_US), end_time=ts(end)
    )
    assert list(reply.measures_issued) == [m for m in measures if m.title != NOTICE]
    assert NOTICE not in reply.text and INSPECTION in reply.text
    assert "（本期数据按处置次数统计" in reply.text


@pytest.mark.parametrize("language", ["fr", "zh", "zh-TW", "english"])
async def test_an_unknown_language_is_refused(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]], language: str
) -> None:
    rec, _, _ = seeded
    err = await expect_error(
        bulletin(rec, pb.BULLETIN_FORMAT_TEXT, language), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["language"]
    assert "zh-CN" in (err.message or "")
    both = await expect_error(
        rec.api.gateway.generate_bulletin(
            pb.GenerateBulletinRequest(campaign_id="Not A Slug", language=language),
            metadata=rec.md("office"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(both) == ["language", "campaign_id"]


async def test_a_release_reads_every_page(
    seeded: tuple[Recorder, list[cpb.TypicalCase], list[mpb.MeasureIssued]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Typical cases and measures beyond one page of the cases service are all in the
    release: read a page of one at a time here, as a campaign of more than a page would be."""
    rec, typical, measures = seeded
    assert len(typical) > 1 and len(measures) > 1
    whole = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT)
    monkeypatch.setattr(servicer, "MAX_PAGE_SIZE", 1)
    paged = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT)
    assert list(paged.measures_issued) == measures
    assert paged.text == whole.text
    for case in typical:
        assert case.title in paged.text
