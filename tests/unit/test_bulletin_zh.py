"""The Chinese release's words, from a status made by hand: the seed's headline, dates as
2021年6月1日, "据不完全统计" exactly when a source did not answer, measures issued in their
department's paragraph, typical cases headed by their place."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from gateway import bulletin
from gateway.bulletin_zh import clauses, date, heading, period, render
from netnet.cases.v1 import campaigns_pb2 as mpb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.config import reference

ZH = reference({}).names("departments", "zh-CN")
PLACES = reference({}).names("regions", "zh-CN")
JUNE_1, SEPTEMBER_1 = 1_622_505_600, 1_630_454_400  # 2021, UTC
# The seed's figures, June to August 2021.
SEED = pb.Figures(
    cases_administrative=600,
    cases_criminal=222,
    content_direct=403_215,
    sites_banned_or_closed=4_812,
    sites_closed=4_812,
    content_platform=20_345_678,
    accounts_handled=8_012_345,
    notice_batches=6,
    apps_removed=250,
)
OK = [pb.SourceHealth(source=s, state=pb.SOURCE_STATE_OK) for s in ("accounts", "sites", "cases")]


def _status(**more: object) -> pb.CampaignStatus:
    fields: dict[str, object] = {
        "campaign_id": "netnet-2021",
        "campaign_title": "“净网2021”集中行动",
        "start_time": Timestamp(seconds=JUNE_1),
        "end_time": Timestamp(seconds=SEPTEMBER_1),
        "total": SEED,
        "sources": OK,
        "complete": True,
    }
    return pb.CampaignStatus(**{**fields, **more})  # type: ignore[arg-type]


def test_the_seeds_headline() -> None:
    text = render(_status(), [], markdown=False)
    assert text.splitlines()[0] == "“净网2021”集中行动工作进展"
    assert text.splitlines()[2] == (
        "2021年6月1日至8月31日，各执法监管部门查处涉网行政和刑事案件822起，"
        "处置低俗有害信息40余万条，关闭网站4800余个，通报问题App 6批，下架App 250款，"
        "督促网站平台清理低俗有害信息2000余万条，处置违法违规账号800余万个。"
    )
    assert "据不完全统计" not in text


def test_incomplete_figures_are_said_to_be() -> None:
    down = [
        pb.SourceHealth(source="accounts", state=pb.SOURCE_STATE_UNAVAILABLE),
        *OK[1:],
    ]
    total = pb.Figures()
    total.CopyFrom(SEED)
    total.ClearField("accounts_handled")
    text = render(_status(sources=down, complete=False, total=total), [], markdown=True)
    lines = text.splitlines()
    assert lines[2].startswith("据不完全统计，2021年6月1日至8月31日，各执法监管部门")
    assert text.count("据不完全统计") == 1 and "账号" not in lines[2]
    assert "（账号处置数据在撰稿时未能取得，未计入本通报。）" in lines


def test_dates_and_periods() -> None:
    assert date(Timestamp(seconds=JUNE_1 + 30 * 86400)) == "2021年7月1日"
    assert date(Timestamp(seconds=SEPTEMBER_1), end=True) == "2021年8月31日"
    across = pb.CampaignStatus(
        start_time=Timestamp(seconds=JUNE_1), end_time=Timestamp(seconds=1_641_081_600)
    )
    assert period(across) == "2021年6月1日至2022年1月1日"
    assert period(pb.CampaignStatus()) == ""
    text = render(pb.CampaignStatus(campaign_id="c", sources=OK), [], markdown=False)
    assert text.splitlines()[2] == "集中行动开展以来，尚无统计数据。"


def test_websites_banned_and_closed() -> None:
    both = pb.Figures(sites_banned_or_closed=5, sites_closed=4, sites_banned=2)
    assert clauses(both) == ["封禁、关闭网站5个（其中关闭4个、封禁2个）"]
    assert clauses(pb.Figures(sites_banned_or_closed=3, sites_banned=3)) == ["封禁网站3个"]
    people = pb.Figures(suspects_detained=2, suspects_arrested=1, cases_criminal=3)
    assert clauses(people) == [
        "查处涉网刑事案件3起",
        "对2名犯罪嫌疑人采取刑事拘留措施",
        "逮捕犯罪嫌疑人1名",
    ]
    assert clauses(pb.Figures(accounts_handled=12), frozenset({"accounts_handled"})) == [
        "处置违法违规账号12个次"
    ]


def test_measures_issued_in_their_departments_paragraph() -> None:
    def issued(department: str, kind: int, title: str, day: int) -> mpb.MeasureIssued:
        return mpb.MeasureIssued(
            department=department,
            kind=kind,  # type: ignore[arg-type]
            title=title,
            issue_time=Timestamp(seconds=JUNE_1 + day * 86400),
        )

    measures = [
        issued(
            "nppa",
            mpb.MEASURE_ISSUED_KIND_NOTICE,
            "《关于进一步严格管理切实防止未成年人沉迷网络游戏的通知》",
            90,
        ),
        issued("cac", mpb.MEASURE_ISSUED_KIND_MEASURES, "整治“饭圈”乱象十项措施", 87),
        issued("miit", mpb.MEASURE_ISSUED_KIND_INSPECTION, "各类应用软件及平台专项检查", 10),
    ]
    cac = pb.Figures(content_direct=153_210, accounts_handled=4_012, groups_closed=1_312)
    status = _status(
        departments=[pb.DepartmentFigures(department="cac", department_name="CAC", figures=cac)]
    )
    lines = render(status, [], markdown=False, measures=measures, names=ZH).splitlines()
    paragraphs = [x for x in lines[3:] if x]
    assert paragraphs == [
        "网信部门出台整治“饭圈”乱象十项措施，处置低俗有害信息15万余条，处置违法违规账号4000余个，"
        "关闭问题群组1300余个。",
        "工业和信息化部开展各类应用软件及平台专项检查。",
        "新闻出版部门印发《关于进一步严格管理切实防止未成年人沉迷网络游戏的通知》。",
    ]
    english = bulletin.render(status, [], False, measures, names=reference({}).departments)
    assert (
        "The Ministry of Industry and Information Technology carried out "
        "各类应用软件及平台专项检查." in english
    )


def test_a_typical_case_is_headed_by_its_place() -> None:
    jinhua = cpb.TypicalCase(
        title="查处“匠心”网站传播淫秽物品案",
        region="Jinhua, Zhejiang",
        region_code="330700",
        summary="涉案淫秽视频8000余部。",
    )
    assert heading(jinhua, PLACES) == "浙江金华查处“匠心”网站传播淫秽物品案"
    named = cpb.TypicalCase(title="江苏南京查处某案", region="江苏南京", region_code="320100")
    assert heading(named, PLACES) == "江苏南京查处某案"  # not twice
    unknown = cpb.TypicalCase(title="侦破某案", region="江苏南京", region_code="320100")
    assert heading(unknown, PLACES) == "江苏南京侦破某案"
    english = cpb.TypicalCase(title="A case", region="Jinhua, Zhejiang")
    assert heading(english, PLACES) == "Jinhua, Zhejiang：A case"
    text = render(_status(), [jinhua], markdown=False, places=PLACES)
    assert "\n——浙江金华查处“匠心”网站传播淫秽物品案\n\n涉案淫秽视频8000余部。\n" in text
    assert "现公布1起典型案例。" in text
    markdown = render(_status(), [jinhua], markdown=True, places=PLACES)
    assert "\n### 浙江金华查处“匠心”网站传播淫秽物品案\n" in markdown
