"""Brute-force oracles: the figures counted the slow way over the records a test wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.config import reference

FIGURES = tuple(f.name for f in pb.Figures.DESCRIPTOR.fields)
SOURCE_OF = {
    "accounts": ("accounts_handled", "groups_handled", "groups_closed"),
    "sites": (
        "sites_banned_or_closed",
        "sites_closed",
        "sites_banned",
        "apps_notified",
        "apps_removed",
        "notice_batches",
        "content_direct",
        "content_platform",
    ),
    "cases": (
        "cases_administrative",
        "cases_criminal",
        "suspects_detained",
        "suspects_arrested",
        "typical_cases",
        "illegal_gains_fen",
    ),
}
assert sorted(f for fs in SOURCE_OF.values() for f in fs) == sorted(FIGURES)

DEPARTMENT_NAMES = reference({}).departments


@dataclass(frozen=True)
class Rec:
    """One live record as the test wrote it. kind: account, group, site, app, batch, content,
    case, measure, typical; subject: what distinct counts count (account, site, party)."""

    kind: str
    action: str
    subject: str
    department: str
    campaign: str
    special_action: str
    value: int = 1
    day: str = ""  # the UTC day it is dated (the ledger stamps it)


# figure -> (record kinds, action or actions (None: any), distinct subjects?)
RULES: dict[str, tuple[tuple[str, ...], str | tuple[str, ...] | None, bool]] = {
    "accounts_handled": (("account",), None, True),
    "groups_handled": (("group",), None, True),
    "groups_closed": (("group",), "close_group", True),
    "sites_banned_or_closed": (("site", "app"), ("ban", "close"), True),
    "sites_closed": (("site", "app"), "close", True),
    "sites_banned": (("site", "app"), "ban", True),
    "apps_notified": (("app",), "notify_rectification", True),
    "apps_removed": (("app",), "remove_from_stores", True),
    "notice_batches": (("batch",), None, False),
    "content_direct": (("content",), "direct", False),
    "content_platform": (("content",), "platform", False),
    "cases_administrative": (("case",), "administrative", False),
    "cases_criminal": (("case",), "criminal", False),
    "suspects_detained": (("measure",), "criminal_detention", True),
    "suspects_arrested": (("measure",), "arrest", True),
    "typical_cases": (("typical",), None, False),
    "illegal_gains_fen": (("gains",), None, False),
}
assert sorted(RULES) == sorted(FIGURES)


@dataclass
class Ledger:
    records: list[Rec] = field(default_factory=list)
    today: Callable[[], str] | None = None  # the day a record added now is dated

    def add(self, rec: Rec) -> None:
        self.records.append(replace(rec, day=rec.day or (self.today() if self.today else "")))

    def remove(self, rec: Rec) -> None:
        """The record as added (on whatever day it was dated)."""
        self.records.remove(next(r for r in self.records if replace(r, day=rec.day) == rec))

    def select(
        self,
        campaign: str,
        departments: Iterable[str] = (),
        special_action: str | None = None,
        day: str | None = None,
    ) -> list[Rec]:
        wanted = set(departments)
        return [
            r
            for r in self.records
            if r.campaign == campaign
            and (not wanted or r.department in wanted)
            and (special_action is None or r.special_action == special_action)
            and (day is None or r.day == day)
        ]

    def days(self, campaign: str) -> list[str]:
        return sorted({r.day for r in self.select(campaign)})

    def figures(
        self,
        campaign: str,
        departments: Iterable[str] = (),
        special_action: str | None = None,
        *,
        distinct_known: bool = True,
        day: str | None = None,
    ) -> dict[str, int | None]:
        """Every figure counted the slow way over the records themselves. distinct_known=False:
        distinct counts that the rollups cannot give exactly are expected unknown (None). A
        day's figures count actions (counts per day keep no distinct subjects)."""
        records = self.select(campaign, departments, special_action, day)
        out: dict[str, int | None] = {}
        for figure, (kinds, action, distinct) in RULES.items():
            actions = (action,) if isinstance(action, str) else action
            hits = [r for r in records if r.kind in kinds and (not actions or r.action in actions)]
            if not distinct or day is not None:
                out[figure] = sum(r.value for r in hits)
            elif hits and not distinct_known:
                out[figure] = None
            else:
                out[figure] = len({r.subject for r in hits})
        return out

    def departments(self, campaign: str) -> list[str]:
        seen = {r.department for r in self.select(campaign)}
        return [d for d in DEPARTMENT_NAMES if d in seen]

    def special_actions(self, campaign: str) -> set[str]:
        return {r.special_action for r in self.select(campaign) if r.special_action}


def figures_of(f: pb.Figures) -> dict[str, int | None]:
    """All figures, None where unset (a source that did not answer)."""
    return {name: getattr(f, name) if f.HasField(name) else None for name in FIGURES}


def expect_status(
    status: pb.CampaignStatus,
    ledger: Ledger,
    campaign: str,
    departments: list[str] | None = None,
    titles: dict[str, str] | None = None,
) -> None:
    """The status equals the brute-force counts of the ledger, row by row. Across several
    departments the rollups keep no exact distinct count (a subject two of them acted on
    would count twice): such figures of the total and special-action rows must be unset,
    never a record count passed off as distinct subjects."""
    one = not departments or len(departments) == 1
    assert status.complete, status.sources
    assert status.campaign_id == campaign
    assert [s.state for s in status.sources] == [pb.SOURCE_STATE_OK] * 3, status.sources
    wanted = departments or ledger.departments(campaign)
    rows = {d.department: d for d in status.departments}
    assert [d.department for d in status.departments] == wanted
    for d in wanted:
        assert rows[d].department_name == DEPARTMENT_NAMES[d]
        got, want = figures_of(rows[d].figures), ledger.figures(campaign, [d])
        assert got == want, (d, _diff(got, want))
    specials = {s.special_action: s for s in status.special_actions}
    expected_specials = ledger.special_actions(campaign) | set(titles or {})
    assert set(specials) == expected_specials
    for s in expected_specials:
        assert specials[s].title == (titles or {}).get(s, s)
        got = figures_of(specials[s].figures)
        want = ledger.figures(campaign, departments or (), s, distinct_known=one)
        assert got == want, (s, departments, _diff(got, want))
    got, want = (
        figures_of(status.total),
        ledger.figures(campaign, departments or (), distinct_known=one),
    )
    assert got == want, ("total", departments, _diff(got, want))


def _diff(
    got: dict[str, int | None], want: dict[str, int | None]
) -> dict[str, tuple[int | None, int | None]]:
    return {k: (got[k], want[k]) for k in want if got[k] != want[k]}


def unset(f: pb.Figures, source: str) -> bool:
    return all(not f.HasField(name) for name in SOURCE_OF[source])


def intact(f: pb.Figures, source: str) -> bool:
    return all(f.HasField(name) for name in SOURCE_OF[source])
