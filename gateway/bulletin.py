"""The campaign press release, written from a status, the measures the departments issued and
the published typical cases: in English here, in Chinese in gateway.bulletin_zh."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

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
    Figure,
)
from services.common.convert import MIN_SECONDS

SOURCE_NAMES = {ACCOUNTS: "accounts", SITES: "websites, apps and content", CASES: "cases"}
# The languages a release is written in (BCP 47 tags, matched without regard to case).
ENGLISH, CHINESE = "en", "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)


def language(tag: str) -> str | None:
    """The release language a request's tag names ("en" when empty), None when unsupported."""
    if not tag:
        return ENGLISH
    return next((lang for lang in LANGUAGES if lang.lower() == tag.lower()), None)


# What a department issued, as a verb-led sentence part (netnet.cases.v1.MeasureIssuedKind).
MEASURE_CLAUSES = {
    campaigns_pb2.MEASURE_ISSUED_KIND_NOTICE: 'issued "{title}"',
    campaigns_pb2.MEASURE_ISSUED_KIND_MEASURES: "introduced {title}",
    campaigns_pb2.MEASURE_ISSUED_KIND_INSPECTION: "carried out {title}",
}


def people_number(n: int) -> str:
    """As people write figures: exact below 1,000, else 'more than' two significant digits."""
    if n < 1000:
        return str(n)
    digits = len(str(n)) - 2
    rounded = n // 10**digits * 10**digits
    prefix = "" if rounded == n else "more than "
    if rounded >= 1_000_000:
        millions = rounded / 1_000_000
        text = f"{millions:.1f}".rstrip("0").rstrip(".") if millions < 10 else f"{millions:.0f}"
        return f"{prefix}{text} million"
    return f"{prefix}{rounded:,}"


def _date(ts: object, end: bool = False) -> str:
    """A day as people write it; a period's end is exclusive, so its last day is the one before."""
    seconds = getattr(ts, "seconds", 0)
    if not seconds:
        return ""
    day = datetime.fromtimestamp(max(seconds - (1 if end else 0), MIN_SECONDS), UTC)
    return f"{day.day} {day:%B} {day.year}"


# Verb-led sentence parts: (figure, singular, plural), {n} written as people write numbers.
CLAUSES = (
    (
        SUSPECTS_DETAINED,
        "placed {n} suspect in criminal detention",
        "placed {n} suspects in criminal detention",
    ),
    (SUSPECTS_ARRESTED, "arrested {n} suspect", "arrested {n} suspects"),
    (CONTENT_DIRECT, "dealt with {n} harmful item", "dealt with {n} harmful items"),
    (SITES_CLOSED, "closed {n} website", "closed {n} websites"),
    (SITES_BANNED, "banned {n} website", "banned {n} websites"),
    (
        NOTICE_BATCHES,
        "published {n} batch of app notices",
        "published {n} batches of app notices",
    ),
    (APPS_NOTIFIED, "notified {n} app for rectification", "notified {n} apps for rectification"),
    (APPS_REMOVED, "removed {n} app from app stores", "removed {n} apps from app stores"),
    (
        CONTENT_PLATFORM,
        "urged platforms to clean up {n} harmful item",
        "urged platforms to clean up {n} harmful items",
    ),
    (ACCOUNTS_HANDLED, "dealt with {n} account", "dealt with {n} accounts"),
    (GROUPS_CLOSED, "closed {n} problematic group", "closed {n} problematic groups"),
)


# The same figures where they count actions, not distinct subjects (a period narrower than
# the campaign's: see CampaignStatus.figure_notes).
ACTION_CLAUSES = {
    SUSPECTS_DETAINED: (
        "recorded {n} criminal detention of suspects",
        "recorded {n} criminal detentions of suspects",
    ),
    SUSPECTS_ARRESTED: ("recorded {n} arrest of suspects", "recorded {n} arrests of suspects"),
    SITES_CLOSED: ("recorded {n} website closure", "recorded {n} website closures"),
    SITES_BANNED: ("recorded {n} website ban", "recorded {n} website bans"),
    APPS_NOTIFIED: (
        "sent {n} rectification notice to apps",
        "sent {n} rectification notices to apps",
    ),
    APPS_REMOVED: (
        "recorded {n} removal of apps from app stores",
        "recorded {n} removals of apps from app stores",
    ),
    ACCOUNTS_HANDLED: ("took {n} action against accounts", "took {n} actions against accounts"),
}


def _known(f: pb.Figures, figure: Figure) -> int:
    known = f.HasField(figure.name)  # type: ignore[arg-type]
    return int(getattr(f, figure.name)) if known else 0


def _clauses(f: pb.Figures, by_actions: frozenset[str] = frozenset()) -> list[str]:
    """The sentence parts for one set of figures (those known and not zero); by_actions:
    the figures that count actions, not distinct subjects."""
    out: list[str] = []
    cases = _known(f, CASES_ADMINISTRATIVE) + _known(f, CASES_CRIMINAL)
    if cases:
        out.append(
            f"investigated and handled {people_number(cases)} "
            f"{'case' if cases == 1 else 'administrative and criminal cases'}"
        )
    shut = _known(f, SITES_BANNED_OR_CLOSED)
    if shut:  # the release's "banned and closed" figure: each site once, its parts after it
        parts = ", ".join(
            f"{people_number(_known(f, figure))} {word}"
            for figure, word in ((SITES_CLOSED, "closed"), (SITES_BANNED, "banned"))
            if _known(f, figure)
        )
        out.append(
            f"banned or closed {people_number(shut)} website{'' if shut == 1 else 's'}"
            + (f" ({parts})" if parts else "")
        )
    for figure, one, many in CLAUSES:
        if shut and figure in (SITES_CLOSED, SITES_BANNED):
            continue
        n = _known(f, figure)
        if figure.name in by_actions:
            one, many = ACTION_CLAUSES.get(figure, (one, many))
        if n:
            out.append((one if n == 1 else many).format(n=people_number(n)))
    return out


def _sentence(parts: list[str]) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def by_department(
    measures: Iterable[campaigns_pb2.MeasureIssued],
) -> dict[str, list[campaigns_pb2.MeasureIssued]]:
    """The measures issued, by department, each department's in the order issued."""
    out: dict[str, list[campaigns_pb2.MeasureIssued]] = {}
    for m in sorted(measures, key=lambda m: m.issue_time.ToMicroseconds()):
        out.setdefault(m.department, []).append(m)
    return out


def department_order(
    status: pb.CampaignStatus, issued: Iterable[str], names: Mapping[str, str]
) -> list[str]:
    """The departments a release has a paragraph for (those with figures or measures issued),
    in the deployment's order; any it does not know after them, as the status has them."""
    wanted = list(dict.fromkeys([*(d.department for d in status.departments), *issued]))
    return [d for d in names if d in wanted] + [d for d in wanted if d not in names]


def render(
    status: pb.CampaignStatus,
    typical: list[cases_pb2.TypicalCase],
    markdown: bool,
    measures: Sequence[campaigns_pb2.MeasureIssued] = (),
    names: Mapping[str, str] | None = None,
) -> str:
    """The release in English; names: the departments' (code -> name, the deployment's
    order), else those the status gives."""
    h1, h2, h3 = ("# ", "## ", "### ") if markdown else ("", "", "")
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    title = status.campaign_title or status.campaign_id or "Joint campaign"
    lines = [f"{h1}{title}: results so far", ""]
    period = " to ".join(
        x for x in (_date(status.start_time), _date(status.end_time, end=True)) if x
    )
    by_actions = frozenset(n.figure for n in status.figure_notes)
    headline = _sentence(_clauses(status.total, by_actions))
    when = f"From {period}, " if period else "So far, "
    lines.append(
        f"{when}the participating departments {headline}."
        if headline
        else f"{when}no figures have been recorded yet."
    )
    missing = [
        SOURCE_NAMES.get(s.source, s.source)
        for s in status.sources
        if s.state != pb.SOURCE_STATE_OK
    ]
    if missing:
        lines += [
            "",
            f"(Figures for {', '.join(missing)} were unavailable when this bulletin "
            "was written and are not included.)",
        ]
    if by_actions:
        lines += [
            "",
            "(Figures for this period count actions: an account, website, app or suspect "
            "acted on more than once in the period is counted once for each action. Distinct "
            "accounts, websites, apps and suspects are counted over the campaign's whole "
            "period only.)",
        ]
    figures = {d.department: d for d in status.departments}
    names = names or {d.department: d.department_name for d in status.departments}
    issued = by_department(measures)
    for code in department_order(status, issued, names):
        parts = [
            MEASURE_CLAUSES[m.kind].format(title=m.title)
            for m in issued.get(code, [])
            if m.kind in MEASURE_CLAUSES
        ]
        if code in figures:
            parts += _clauses(figures[code].figures, by_actions)
        if parts:
            name = figures[code].department_name if code in figures else names.get(code, code)
            lines += ["", f"{bold(name)} {_sentence(parts)}."]
    specials = [(s.title, _clauses(s.figures, by_actions)) for s in status.special_actions]
    specials = [(t, p) for t, p in specials if p]
    if specials:
        lines += ["", f"{h2}Special actions", ""]
        lines += [f"- {t}: {_sentence(p)}." for t, p in specials]
    if typical:
        count = people_number(len(typical))
        lines += [
            "",
            f"{h2}Typical cases",
            "",
            f"To serve as a warning, {count} typical "
            f"{'case is' if len(typical) == 1 else 'cases are'} announced.",
        ]
        for t in typical:
            lines += [
                "",
                f"{h3}{t.title} ({t.region})" if t.region else f"{h3}{t.title}",
                "",
                t.summary,
            ]
            if t.outcome:
                lines += ["", t.outcome]
    return "\n".join(lines) + "\n"
