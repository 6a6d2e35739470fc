"""The campaign press release, written from a status and the published typical cases."""

from __future__ import annotations

from datetime import UTC, datetime

from netnet.cases.v1 import cases_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.convert import MIN_SECONDS

SOURCE_NAMES = {"accounts": "accounts", "sites": "websites, apps and content", "cases": "cases"}


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
        "suspects_detained",
        "placed {n} suspect in criminal detention",
        "placed {n} suspects in criminal detention",
    ),
    ("suspects_arrested", "arrested {n} suspect", "arrested {n} suspects"),
    ("content_direct", "dealt with {n} harmful item", "dealt with {n} harmful items"),
    ("sites_closed", "closed {n} website", "closed {n} websites"),
    ("sites_banned", "banned {n} website", "banned {n} websites"),
    (
        "notice_batches",
        "published {n} batch of app notices",
        "published {n} batches of app notices",
    ),
    ("apps_notified", "notified {n} app for rectification", "notified {n} apps for rectification"),
    ("apps_removed", "removed {n} app from app stores", "removed {n} apps from app stores"),
    (
        "content_platform",
        "urged platforms to clean up {n} harmful item",
        "urged platforms to clean up {n} harmful items",
    ),
    ("accounts_handled", "dealt with {n} account", "dealt with {n} accounts"),
    ("groups_closed", "closed {n} problematic group", "closed {n} problematic groups"),
)


# The same figures where they count actions, not distinct subjects (a period narrower than
# the campaign's: see CampaignStatus.figure_notes).
ACTION_CLAUSES = {
    "suspects_detained": (
        "recorded {n} criminal detention of suspects",
        "recorded {n} criminal detentions of suspects",
    ),
    "suspects_arrested": ("recorded {n} arrest of suspects", "recorded {n} arrests of suspects"),
    "sites_closed": ("recorded {n} website closure", "recorded {n} website closures"),
    "sites_banned": ("recorded {n} website ban", "recorded {n} website bans"),
    "apps_notified": (
        "sent {n} rectification notice to apps",
        "sent {n} rectification notices to apps",
    ),
    "apps_removed": (
        "recorded {n} removal of apps from app stores",
        "recorded {n} removals of apps from app stores",
    ),
    "accounts_handled": ("took {n} action against accounts", "took {n} actions against accounts"),
}


def _known(f: pb.Figures, field: str) -> int:
    return int(getattr(f, field)) if f.HasField(field) else 0  # type: ignore[arg-type]


def _clauses(f: pb.Figures, by_actions: frozenset[str] = frozenset()) -> list[str]:
    """The sentence parts for one set of figures (those known and not zero); by_actions:
    the figures that count actions, not distinct subjects."""
    out: list[str] = []
    cases = _known(f, "cases_administrative") + _known(f, "cases_criminal")
    if cases:
        out.append(
            f"investigated and handled {people_number(cases)} "
            f"{'case' if cases == 1 else 'administrative and criminal cases'}"
        )
    shut = _known(f, "sites_banned_or_closed")
    if shut:  # the release's "banned and closed" figure: each site once, its parts after it
        parts = ", ".join(
            f"{people_number(_known(f, field))} {word}"
            for field, word in (("sites_closed", "closed"), ("sites_banned", "banned"))
            if _known(f, field)
        )
        out.append(
            f"banned or closed {people_number(shut)} website{'' if shut == 1 else 's'}"
            + (f" ({parts})" if parts else "")
        )
    for field, one, many in CLAUSES:
        if shut and field in ("sites_closed", "sites_banned"):
            continue
        n = _known(f, field)
        if field in by_actions:
            one, many = ACTION_CLAUSES.get(field, (one, many))
        if n:
            out.append((one if n == 1 else many).format(n=people_number(n)))
    return out


def _sentence(parts: list[str]) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def render(status: pb.CampaignStatus, typical: list[cases_pb2.TypicalCase], markdown: bool) -> str:
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
    for d in status.departments:
        parts = _clauses(d.figures, by_actions)
        if parts:
            lines += ["", f"{bold(d.department_name)} {_sentence(parts)}."]
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
