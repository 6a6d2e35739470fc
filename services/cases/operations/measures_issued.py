"""Measures issued in a campaign (a notice, measures, an inspection): recorded by an operator
or admin of the department that issued them, in its own name, read by every caller."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import MeasureIssued, validate_measure_issued
from services.cases.operations.base import A, Call, dated, log, once
from services.common import changes, paging
from services.common.auth import check_department, require_role
from services.common.context import Principal
from services.common.errors import FieldViolation, InvalidArgument, NotFound, Violations
from services.common.reference import is_slug
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime

PREFIX = "measure_issued."


def _campaign(parent: str, v: Violations) -> str:
    slug = parent.removeprefix("campaigns/")
    v.check(parent.startswith("campaigns/") and is_slug(slug), "parent", "must be campaigns/{id}")
    return slug


async def record(rt: Runtime, call: Call[MeasureIssued, A], parent: str, m: MeasureIssued) -> A:
    principal = require_role("operator", "admin")
    check_department(principal, m.department)
    v = Violations()
    m = replace(m, campaign_id=_campaign(parent, v))
    validate_measure_issued(m, v, PREFIX, rt.settings.reference)
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: _record(c, principal, m, call.request_id, now))


def _record(
    conn: Conn, principal: Principal, m: MeasureIssued, request_id: str, now_us: int
) -> MeasureIssued:
    campaign = store.campaign_by_slug(conn, m.campaign_id)
    if campaign is None:
        raise NotFound(f"campaigns/{m.campaign_id} not found")
    if m.department not in (campaign.lead_department, *campaign.participating):
        raise InvalidArgument(
            [
                FieldViolation(
                    f"{PREFIX}department",
                    f"{m.department!r} does not take part in campaign {m.campaign_id!r}",
                )
            ]
        )
    dated(conn, m.campaign_id, m.special_action, m.issue_us, "issue_time", now_us, PREFIX)
    m = replace(
        m,
        id=store.next_id(conn, "measures_issued"),
        recorded_by=principal.operator,
        create_us=now_us,
    )
    store.add_measure_issued(conn, m)
    name = f"campaigns/{m.campaign_id}/measuresIssued/{m.id}"
    log(
        conn,
        principal,
        "RecordMeasureIssued",
        name,
        request_id,
        "recorded",
        now_us,
        m.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_MEASURES_ISSUED.rows([m.id])],
    )
    return m


async def page(
    rt: Runtime, parent: str, page_size: int, token: str
) -> tuple[list[MeasureIssued], str]:
    """A campaign's measures issued, in the order recorded (NOT_FOUND for no campaign)."""
    v = Violations()
    slug = _campaign(parent, v)
    v.raise_if_any()
    size = paging.page_size(page_size)
    after = paging.decode(token, parent) or 0

    def read(conn: Conn) -> list[MeasureIssued] | None:
        if store.campaign_by_slug(conn, slug) is None:
            return None
        return store.list_measures_issued(conn, slug, after, size + 1)

    rows = await rt.db.read(read)
    if rows is None:
        raise NotFound(f"{parent} not found")
    return paging.cut(rows, size, parent)
