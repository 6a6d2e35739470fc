"""Campaigns: created and changed by admins, read by every caller."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import CAMPAIGN_UPDATABLE, Campaign, validate_campaign
from services.cases.operations.base import A, Call, check_etag, log, mask_fields, once
from services.common import changes, paging
from services.common.auth import require_role
from services.common.context import Principal
from services.common.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from services.common.reference import is_slug
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime


def _slug(name: str, field: str, v: Violations) -> str:
    slug = name.removeprefix("campaigns/")
    v.check(name.startswith("campaigns/") and is_slug(slug), field, "must be campaigns/{id}")
    return slug


async def create(rt: Runtime, call: Call[Campaign, A], c: Campaign) -> A:
    principal = require_role("admin")
    v = Violations()
    validate_campaign(c, v, "campaign.", ("id", *CAMPAIGN_UPDATABLE), rt.settings.reference)
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(rt, call, lambda conn: _create(conn, principal, c, call.request_id, now))


def _create(
    conn: Conn, principal: Principal, c: Campaign, request_id: str, now_us: int
) -> Campaign:
    if store.campaign_by_slug(conn, c.slug) is not None:
        raise AlreadyExists(f"campaign {c.slug!r} already exists")
    c = replace(
        c, id=store.next_id(conn, "campaigns"), create_us=now_us, update_us=now_us, revision=1
    )
    store.save_campaign(conn, c)
    log(
        conn,
        principal,
        "CreateCampaign",
        f"campaigns/{c.slug}",
        request_id,
        "created",
        now_us,
        c.slug,
        changes.CREATED,
    )
    return c


async def update(
    rt: Runtime, call: Call[Campaign, A], name: str, c: Campaign, mask: list[str], etag: str
) -> A:
    principal = require_role("admin")
    v = Violations()
    fields = mask_fields(mask, CAMPAIGN_UPDATABLE, v)
    c = replace(c, slug=_slug(name, "campaign.name", v))
    validate_campaign(c, v, "campaign.", fields, rt.settings.reference)
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(
        rt, call, lambda conn: _update(conn, principal, c, fields, etag, call.request_id, now)
    )


def _update(
    conn: Conn,
    principal: Principal,
    new: Campaign,
    fields: tuple[str, ...],
    etag: str,
    request_id: str,
    now_us: int,
) -> Campaign:
    current = store.campaign_by_slug(conn, new.slug)
    if current is None:
        raise NotFound(f"campaigns/{new.slug} not found")
    check_etag(etag, current.revision)
    attrs = {
        "start_time": "start_us",
        "end_time": "end_us",
        "participating_departments": "participating",
    }
    for f in fields:
        assert f in CAMPAIGN_UPDATABLE
        setattr(current, attrs.get(f, f), getattr(new, attrs.get(f, f)))
    if current.end_us <= current.start_us:
        # Bad input, like the same period on create: name the field the request changed.
        field = "campaign.end_time" if "end_time" in fields else "campaign.start_time"
        raise InvalidArgument([FieldViolation(field, "the period must end after it starts")])
    current.update_us, current.revision = now_us, current.revision + 1
    store.save_campaign(conn, current)
    log(
        conn,
        principal,
        "UpdateCampaign",
        f"campaigns/{current.slug}",
        request_id,
        "updated " + ",".join(fields),
        now_us,
        current.slug,
    )
    return current


async def get(rt: Runtime, name: str) -> Campaign:
    v = Violations()
    slug = _slug(name, "name", v)
    v.raise_if_any()
    c = await rt.db.read(lambda conn: store.campaign_by_slug(conn, slug))
    if c is None:
        raise NotFound(f"{name} not found")
    return c


async def page(rt: Runtime, page_size: int, token: str) -> tuple[list[Campaign], str]:
    size = paging.page_size(page_size)
    after = paging.decode(token, "campaigns") or 0
    rows = await rt.db.read(lambda c: store.list_campaigns(c, after, size + 1))
    return paging.cut(rows, size, "campaigns")
