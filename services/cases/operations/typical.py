"""Typical cases: a draft the lead office vets, published by it or the coordinating office,
public once published. Only the lead office's text is compared with the real names; every
text's figures are compared with its case's recorded facts (services.cases.claims)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.claims import contradictions
from services.cases.domain import (
    TYPICAL,
    TYPICAL_PUBLISHED,
    Case,
    EventKind,
    TypicalCase,
    TypicalState,
    can_view,
    leads,
    sees_real_names,
)
from services.cases.operations.base import (
    WRITERS,
    A,
    Call,
    count,
    dated,
    event,
    get_case,
    log,
    once,
    refuse_real_names,
    text,
)
from services.common import changes, names, paging
from services.common.auth import require_role
from services.common.clock import day_of
from services.common.context import Principal, current_principal
from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.reference import COORDINATING_OFFICE
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime

TEXT_FIELDS = ("title", "region", "summary", "outcome")


def _checked(case: str, t: TypicalCase) -> TypicalCase:
    """A typical case's text, checked (its case named, its fields within bounds)."""
    (case_id,) = names.parse(case, "typical_case.case", "cases")
    v = Violations()
    text(v, t.title, "typical_case.title", 256)
    text(v, t.region, "typical_case.region", 256)
    text(v, t.summary, "typical_case.summary")
    text(v, t.outcome, "typical_case.outcome", required=False)
    v.raise_if_any()
    return replace(t, case_id=case_id)


async def draft(rt: Runtime, call: Call[TypicalCase, A], case: str, t: TypicalCase) -> A:
    """The lead office vets a summary for the coordinating office to publish."""
    principal = require_role(*WRITERS)
    t = _checked(case, replace(t, publish_us=0))
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: _draft(c, principal, t, call.request_id, now))


async def publish(
    rt: Runtime, call: Call[TypicalCase, A], name: str, case: str, t: TypicalCase
) -> A:
    """Publish the lead office's own text (no name), or a vetted draft by its name alone
    (t.publish_us: when it was published, 0 for now)."""
    principal = require_role(*WRITERS)
    draft_id = None
    if name:
        (draft_id,) = names.parse(name, "typical_case.name", "typicalCases")
        given = [f for f, value in (("case", case), *_texts(t)) if value]
        if given:
            raise InvalidArgument(
                [
                    FieldViolation(f"typical_case.{f}", "a draft is published as vetted")
                    for f in given
                ]
            )
        t = TypicalCase(0, 0, "", "", "", "", "", t.publish_us, "", "")
    else:
        t = _checked(case, t)
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: _publish(c, principal, t, draft_id, call.request_id, now))


def _texts(t: TypicalCase) -> list[tuple[str, str]]:
    return [(f, getattr(t, f)) for f in TEXT_FIELDS]


def _vetted_text(conn: Conn, principal: Principal, case: Case, t: TypicalCase) -> None:
    """Only the lead office, which sees the parties' real names, submits text that is
    compared with them (and is told which field matched): anyone else would learn whether a
    guessed name is right. The refusal of anyone else does not depend on the text."""
    if not sees_real_names(principal, case):
        raise PermissionDenied(
            "only the lead office writes a typical case's text; the coordinating office "
            "publishes a draft the lead office vetted (give its name)",
            reason="DRAFT_REQUIRED",
        )
    refuse_real_names(conn, case, {f"typical_case.{f}": value for f, value in _texts(t)})
    bad = _contradicted(conn, case, t)
    if bad:
        raise InvalidArgument(bad, reason="TEXT_CONTRADICTS_FACTS")


def _contradicted(conn: Conn, case: Case, t: TypicalCase) -> list[FieldViolation]:
    """The figures of the text that the case's recorded facts and sentences contradict."""
    sentences = [
        p.sentence_months for p in store.parties_of(conn, case.id) if p.sentence_months is not None
    ]
    texts = {f"typical_case.{f}": value for f, value in _texts(t)}
    return contradictions(texts, case.facts, sentences)


def _publisher(principal: Principal, case: Case) -> None:
    if not (
        leads(principal, case)
        or (principal.department == COORDINATING_OFFICE and can_view(principal, case))
    ):
        raise PermissionDenied(
            "typical cases are published by the lead office or the coordinating office",
            reason="NOT_PUBLISHER",
        )


def _draft(
    conn: Conn, principal: Principal, t: TypicalCase, request_id: str, now_us: int
) -> TypicalCase:
    case = get_case(conn, t.case_id)
    _vetted_text(conn, principal, case, t)
    t = replace(
        t,
        id=store.next_id(conn, "typical_cases"),
        campaign_id=case.campaign_id,
        publish_us=0,
        published_by="",
        department=principal.department,
        state=TypicalState.DRAFT,
        vetted_party_id=store.last_party_id(conn, case.id),
        region_code=case.lead_region,
    )
    store.save_typical(conn, t)
    drafted = event(
        conn,
        principal,
        case,
        EventKind.TYPICAL_CASE_DRAFTED,
        f"drafted typicalCases/{t.id}",
        now_us,
    )
    log(
        conn,
        principal,
        "DraftTypicalCase",
        f"typicalCases/{t.id}",
        request_id,
        "drafted",
        now_us,
        case.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([drafted]), store.AUDITED_TYPICAL_TEXT.rows([t.id])],
    )
    return t


def _publish(
    conn: Conn,
    principal: Principal,
    t: TypicalCase,
    draft_id: int | None,
    request_id: str,
    now_us: int,
) -> TypicalCase:
    """Publish a frozen, anonymised summary: the lead office's own text, or a draft it vetted
    (by the lead office or the coordinating office)."""
    requested_us = t.publish_us  # when it was published, if the caller says
    if draft_id is None:
        case = get_case(conn, t.case_id)
        _publisher(principal, case)
        _vetted_text(conn, principal, case, t)
        t = replace(t, id=store.next_id(conn, "typical_cases"))
        kind = changes.CREATED
        typical_rows = [store.AUDITED_TYPICAL_TEXT.rows([t.id])]  # its text, written now
    else:
        draft = store.get_typical(conn, draft_id)
        if draft is None:
            raise NotFound(f"typicalCases/{draft_id} not found")
        case = get_case(conn, draft.case_id)
        _publisher(principal, case)
        if draft.state != TypicalState.DRAFT:
            raise FailedPrecondition(
                f"typicalCases/{draft_id} is already published", reason="ALREADY_PUBLISHED"
            )
        if store.last_party_id(conn, case.id) != draft.vetted_party_id:
            raise FailedPrecondition(
                "parties were added to the case after the lead office vetted this draft: "
                "it vets the text again",
                reason="DRAFT_STALE",
            )
        bad = _contradicted(conn, case, draft)
        if bad:
            # The case's facts changed since the draft was vetted (they are checked then).
            raise FailedPrecondition(
                f"typicalCases/{draft_id} no longer agrees with its case's recorded facts: "
                + "; ".join(f"{v.field} {v.description}" for v in bad)
                + ": the lead office vets the text again",
                reason="DRAFT_CONTRADICTS_FACTS",
            )
        t, kind = draft, changes.UPDATED
        typical_rows = []  # its text is the draft's entry's
    publish_us = requested_us or now_us
    dated(conn, case.campaign_id, "", publish_us, "publish_time", now_us, "typical_case.")
    t = replace(
        t,
        campaign_id=case.campaign_id,
        publish_us=publish_us,
        published_by=principal.operator,
        department=principal.department,
        state=TypicalState.PUBLISHED,
        region_code=case.lead_region,
    )
    store.save_typical(conn, t)
    typical_rows.append(store.AUDITED_TYPICAL.rows([t.id]))  # as published, for good
    key = (
        case.lead_department,
        TYPICAL_PUBLISHED,
        case.primary_category(),
        case.campaign_id,
        case.special_action,
    )
    count(conn, TYPICAL, key, day_of(publish_us))
    published = event(
        conn,
        principal,
        case,
        EventKind.TYPICAL_CASE_PUBLISHED,
        f"published as typicalCases/{t.id}",
        now_us,
    )
    log(
        conn,
        principal,
        "PublishTypicalCase",
        f"typicalCases/{t.id}",
        request_id,
        "published",
        now_us,
        case.campaign_id,
        kind,
        rows=[store.AUDITED_EVENTS.rows([published]), *typical_rows],
    )
    return t


async def get(rt: Runtime, name: str) -> TypicalCase:
    """A published summary is public; a draft is for those who see its case."""
    (typical_id,) = names.parse(name, "name", "typicalCases")
    principal = current_principal()

    def read(conn: Conn) -> TypicalCase:
        t = store.get_typical(conn, typical_id)
        if t is None:
            raise NotFound(f"typicalCases/{typical_id} not found")
        if t.state == TypicalState.DRAFT and not can_view(principal, get_case(conn, t.case_id)):
            raise PermissionDenied(
                "a draft is for the offices that see its case", reason="CASE_NOT_VISIBLE"
            )
        return t

    return await rt.db.read(read)


async def page(
    rt: Runtime, campaign_id: str, page_size: int, token: str
) -> tuple[list[TypicalCase], str]:
    """Published typical cases (drafts are not listed), of a campaign or all."""
    size = paging.page_size(page_size)
    after = paging.decode(token, campaign_id) or 0
    rows = await rt.db.read(lambda c: store.list_typical(c, campaign_id, after, size + 1))
    return paging.cut(rows, size, campaign_id)
