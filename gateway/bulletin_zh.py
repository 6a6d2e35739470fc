"""The campaign press release in Chinese (zh-CN), as the seed's own release reads: "据不完全统计，
……查处涉网行政和刑事案件822起，处置低俗有害信息40余万条，关闭网站4800余个……", departments by
their Chinese names, dates as 2021年6月1日, each typical case headed by its place."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from gateway.bulletin import _known, by_department, department_order
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.vocabulary import (
    ACCOUNTS,
    ACCOUNTS_HANDLED,
    APPS_NOTIFIED,
    APPS_REMOVED,
    CASES,
    CASES_ADMINISTRATIVE,
    CASES_CRIMINAL,
    CONTENT_DIRECT,
    CONTENT_PLATFORM,
    GROUPS_CLOSED,
    NOTICE_BATCHES,
    SITES,
    SITES_BANNED,
    SITES_BANNED_OR_CLOSED,
    SITES_CLOSED,
    SUSPECTS_ARRESTED,
    SUSPECTS_DETAINED,
)
from services.common.convert import MIN_SECONDS
from services.common.numerals import zh_number

CJK = re.compile(r"[\u3400-\u9fff“《]")
SOURCE_NAMES = {ACCOUNTS: "账号处置", SITES: "网站、App及信息处置", CASES: "案件查办"}
INCOMPLETE = "据不完全统计，"

# Sentence parts after the cases, in the seed's order: (figure, as counted, where the figure
# counts actions in a period narrower than the campaign's). {n} as releases write numbers;
# measure words: 名 people, 条 items, 款 apps (as Chinese releases count them), 个 accounts
# and groups, 批 batches; 人次/个次/款次 count actions.
CLAUSES = (
    (SUSPECTS_DETAINED, "对{n}名犯罪嫌疑人采取刑事拘留措施", "采取刑事拘留措施{n}人次"),
    (SUSPECTS_ARRESTED, "逮捕犯罪嫌疑人{n}名", "逮捕犯罪嫌疑人{n}人次"),
    (CONTENT_DIRECT, "处置低俗有害信息{n}条", "处置低俗有害信息{n}条"),
    (NOTICE_BATCHES, "通报问题App {n}批", "通报问题App {n}批"),
    (APPS_NOTIFIED, "责令{n}款App限期整改", "向App发出限期整改通知{n}次"),
    (APPS_REMOVED, "下架App {n}款", "下架App {n}款次"),
    (CONTENT_PLATFORM, "督促网站平台清理低俗有害信息{n}条", "督促网站平台清理低俗有害信息{n}条"),
    (ACCOUNTS_HANDLED, "处置违法违规账号{n}个", "处置违法违规账号{n}个次"),
    (GROUPS_CLOSED, "关闭问题群组{n}个", "关闭问题群组{n}个次"),
)
# What a department issued: a notice by its title in 《》, measures and inspections as named.
MEASURE_CLAUSES = {
    campaigns_pb2.MEASURE_ISSUED_KIND_NOTICE: "印发《{title}》",
    campaigns_pb2.MEASURE_ISSUED_KIND_MEASURES: "出台{title}",
    campaigns_pb2.MEASURE_ISSUED_KIND_INSPECTION: "开展{title}",
}


def _day(ts: object, end: bool = False) -> datetime | None:
    """The day of a time; a period's end is exclusive, so its last day is the one before."""
    seconds = getattr(ts, "seconds", 0)
    if not seconds:
        return None
    return datetime.fromtimestamp(max(seconds - (1 if end else 0), MIN_SECONDS), UTC)


def date(ts: object, end: bool = False) -> str:
    """A day as Chinese releases write it: 2021年7月1日."""
    day = _day(ts, end)
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def period(status: pb.CampaignStatus) -> str:
    """A status's period: 2021年6月1日至8月31日 (the year once when both days are in it)."""
    first, last = _day(status.start_time), _day(status.end_time, end=True)
    if first and last and first.year == last.year:
        return f"{date(status.start_time)}至{last.month}月{last.day}日"
    return "至".join(x for x in (date(status.start_time), date(status.end_time, end=True)) if x)


def _shut(f: pb.Figures, by_actions: frozenset[str]) -> list[str]:
    """The websites banned or closed: one figure (each site once) and, where both happen,
    its parts."""
    shut, closed, banned = (
        _known(f, x) for x in (SITES_BANNED_OR_CLOSED, SITES_CLOSED, SITES_BANNED)
    )
    unit = "个次" if SITES_BANNED_OR_CLOSED.name in by_actions else "个"
    if not shut:
        return [
            f"{verb}网站{zh_number(n)}{unit}"
            for verb, n in (("关闭", closed), ("封禁", banned))
            if n
        ]
    if not banned and closed == shut:
        return [f"关闭网站{zh_number(shut)}{unit}"]
    if not closed and banned == shut:
        return [f"封禁网站{zh_number(shut)}{unit}"]
    parts = "、".join(
        f"{verb}{zh_number(n)}{unit}" for verb, n in (("关闭", closed), ("封禁", banned)) if n
    )
    return [f"封禁、关闭网站{zh_number(shut)}{unit}" + (f"（其中{parts}）" if parts else "")]


def clauses(f: pb.Figures, by_actions: frozenset[str] = frozenset()) -> list[str]:
    """The sentence parts for one set of figures (those known and not zero)."""
    out: list[str] = []
    administrative, criminal = _known(f, CASES_ADMINISTRATIVE), _known(f, CASES_CRIMINAL)
    if administrative + criminal:
        kind = (
            "行政和刑事案件"
            if administrative and criminal
            else ("刑事案件" if criminal else "行政案件")
        )
        out.append(f"查处涉网{kind}{zh_number(administrative + criminal)}起")
    for figure, counted, as_actions in CLAUSES:
        n = _known(f, figure)
        if n:
            template = as_actions if figure.name in by_actions else counted
            out.append(template.format(n=zh_number(n)))
        if figure is CONTENT_DIRECT:
            out += _shut(f, by_actions)  # the seed's order: content, then websites
    return out


def measure_clause(m: campaigns_pb2.MeasureIssued) -> str:
    title = m.title.strip().removeprefix("《").removesuffix("》")
    return MEASURE_CLAUSES[m.kind].format(title=title) if m.kind in MEASURE_CLAUSES else ""


def heading(t: cases_pb2.TypicalCase, places: Mapping[str, str]) -> str:
    """A typical case's heading, its place first (浙江金华查处……): the place named in
    reference data for its region code, else the place its text gives."""
    place = places.get(t.region_code) or t.region
    if not place or t.title.startswith(place):
        return t.title
    # Chinese runs on (浙江金华查处……); a place or title in another script is set apart.
    joined = CJK.match(place[-1]) and CJK.match(t.title[:1])
    return f"{place}{t.title}" if joined else f"{place}：{t.title}"


def render(
    status: pb.CampaignStatus,
    typical: list[cases_pb2.TypicalCase],
    markdown: bool,
    measures: Sequence[campaigns_pb2.MeasureIssued] = (),
    names: Mapping[str, str] | None = None,
    places: Mapping[str, str] | None = None,
) -> str:
    """The release in Chinese; names: the departments' Chinese names (code -> name, the
    deployment's order); places: region code -> place."""
    h1, h2, h3 = ("# ", "## ", "### ") if markdown else ("", "", "")
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    names = names or {d.department: d.department_name for d in status.departments}
    places = places or {}
    title = status.campaign_title or status.campaign_id or "联合行动"
    lines = [f"{h1}{title}工作进展", ""]
    by_actions = frozenset(n.figure for n in status.figure_notes)
    missing = [
        SOURCE_NAMES.get(s.source, s.source)
        for s in status.sources
        if s.state != pb.SOURCE_STATE_OK
    ]
    lead = INCOMPLETE if missing else ""
    when = period(status) or "集中行动开展以来"
    headline = "，".join(clauses(status.total, by_actions))
    lines.append(
        f"{lead}{when}，各执法监管部门{headline}。" if headline else f"{lead}{when}，尚无统计数据。"
    )
    if missing:
        lines += ["", f"（{'、'.join(missing)}数据在撰稿时未能取得，未计入本通报。）"]
    if by_actions:
        lines += [
            "",
            "（本期数据按处置次数统计：同一账号、网站、App或犯罪嫌疑人在本期内多次被处置的，"
            "每次均计入；按对象去重的数据仅就集中行动全程统计。）",
        ]
    figures = {d.department: d.figures for d in status.departments}
    issued = by_department(measures)
    for code in department_order(status, issued, names):
        parts = [c for c in (measure_clause(m) for m in issued.get(code, [])) if c]
        if code in figures:
            parts += clauses(figures[code], by_actions)
        if parts:
            lines += ["", f"{bold(names.get(code, code))}{'，'.join(parts)}。"]
    specials = [(s.title, clauses(s.figures, by_actions)) for s in status.special_actions]
    specials = [(t, p) for t, p in specials if p]
    if specials:
        lines += ["", f"{h2}专项行动", ""]
        lines += [f"- {t}：{'，'.join(p)}。" for t, p in specials]
    if typical:
        lines += [
            "",
            f"{h2}典型案例",
            "",
            f"为更好发挥典型案例的警示教育作用，现公布{zh_number(len(typical))}起典型案例。",
        ]
        for t in typical:
            lines += ["", f"{h3}{heading(t, places)}" if markdown else f"——{heading(t, places)}"]
            lines += ["", t.summary]
            if t.outcome:
                lines += ["", t.outcome]
    return "\n".join(lines) + "\n"
