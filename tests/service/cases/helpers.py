"""Builders and checks shared by the cases service tests (real server, real channels)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.field_mask_pb2 import FieldMask

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.auth import issue_token
from tests.support.rpc import DAY_US, Metadata, ts
from tests.support.servers import START_US

if TYPE_CHECKING:
    from tests.support.servers import Tokens
else:
    Tokens = Any

YUAN = 100  # fen

__all__ = [
    "YUAN",
    "Snapshot",
    "add_party",
    "all_events",
    "case_msg",
    "create_campaign",
    "create_case",
    "mask",
    "publish_draft",
    "regional",
    "snapshot",
    "stats",
    "transition",
    "vetted_draft",
    "watch",
]


def regional(tokens: Tokens, department: str, region: str, *roles: str) -> Metadata:
    """A token of one region's office (the default tokens are national)."""
    token = issue_token(
        tokens.key,
        operator=f"{department}-{region}",
        department=department,
        roles=list(roles or ("operator",)),
        region=region,
    )
    return [("authorization", f"Bearer {token}")]


def mask(*paths: str) -> FieldMask:
    return FieldMask(paths=list(paths))


# --- builders ------------------------------------------------------------------------------


def case_msg(
    number: str = "5·11",
    *,
    title: str = "Porn site promoted by agents",
    kind: pb.CaseKind.ValueType = pb.CASE_KIND_CRIMINAL,
    lead: str = "mps",
    region: str = "341124",
    assisting: Iterable[str] = (),
    provinces: Iterable[str] = ("340000",),
    campaign_id: str = "netnet-2021",
    special_action: str = "",
    categories: Iterable[str] = ("obscene",),
    facts: pb.CaseFacts | None = None,
    linked: Iterable[str] = (),
) -> pb.Case:
    return pb.Case(
        number=number,
        title=title,
        kind=kind,
        lead_department=lead,
        lead_region=region,
        assisting_departments=list(assisting),
        provinces=list(provinces),
        campaign_id=campaign_id,
        special_action=special_action,
        categories=list(categories),
        facts=facts,
        linked_resources=list(linked),
    )


async def create_case(client: CasesClient, md: Metadata, request_id: str, case: pb.Case) -> pb.Case:
    return (
        await client.create_case(
            pb.CreateCaseRequest(request_id=request_id, case=case), metadata=md
        )
    ).case


async def add_party(
    client: CasesClient,
    md: Metadata,
    request_id: str,
    case: str,
    real_name: str,
    role: str = "",
    kind: pb.PartyKind.ValueType = pb.PARTY_KIND_SUSPECT,
) -> pb.Party:
    return (
        await client.add_party(
            pb.AddPartyRequest(
                request_id=request_id,
                parent=case,
                party=pb.Party(kind=kind, real_name=real_name, role=role),
            ),
            metadata=md,
        )
    ).party


async def transition(
    client: CasesClient,
    md: Metadata,
    request_id: str,
    case: str,
    state: pb.CaseState.ValueType,
    note: str = "",
) -> pb.Case:
    return (
        await client.transition_case(
            pb.TransitionCaseRequest(request_id=request_id, name=case, state=state, note=note),
            metadata=md,
        )
    ).case


async def create_campaign(
    campaigns: CasesClient,
    md: Metadata,
    request_id: str,
    slug: str = "netnet-2021",
    *,
    title: str = "Net Net 2021",
    start_us: int = START_US - 30 * DAY_US,
    end_us: int = START_US + 183 * DAY_US,
    lead: str = "office",
    participating: Iterable[str] = ("cpd", "cac", "miit", "mps", "mct", "nrta"),
    special_actions: Iterable[tuple[str, str]] = (),
) -> cpb.Campaign:
    return (
        await campaigns.create_campaign(
            cpb.CreateCampaignRequest(
                request_id=request_id,
                campaign=cpb.Campaign(
                    id=slug,
                    title=title,
                    start_time=ts(start_us),
                    end_time=ts(end_us),
                    lead_department=lead,
                    participating_departments=list(participating),
                    special_actions=[cpb.SpecialAction(id=i, title=t) for i, t in special_actions],
                ),
            ),
            metadata=md,
        )
    ).campaign


async def all_events(
    client: CasesClient, md: Metadata, case: str, page_size: int = 0
) -> list[pb.CaseEvent]:
    listed = await client.list_case_events(parent=case, page_size=page_size, metadata=md)
    return await listed.all()


async def stats(
    client: CasesClient,
    md: Metadata,
    subject: pb.StatsSubject.ValueType,
    group_by: Iterable[common_pb2.Dimension.ValueType] = (),
    **filters: Any,
) -> pb.GetStatsResponse:
    return await client.get_stats(
        pb.GetStatsRequest(
            subject=subject, filter=common_pb2.StatsFilter(**filters), group_by=list(group_by)
        ),
        metadata=md,
    )


async def watch(
    client: CasesClient, md: Metadata, after_seq: int, n: int
) -> list[common_pb2.ChangeEvent]:
    """The next n changes after after_seq (fails rather than hangs if fewer arrive)."""
    out: list[common_pb2.ChangeEvent] = []

    async def read() -> None:
        async with aclosing(client.watch_changes(after_seq=after_seq, metadata=md)) as changes:
            async for response in changes:
                out.append(response.event)
                if len(out) == n:
                    return

    await asyncio.wait_for(read(), 10)
    return out


async def vetted_draft(
    client: CasesClient, lead: Metadata, request_id: str, typical: pb.TypicalCase
) -> pb.TypicalCase:
    """A typical case's text, vetted by the lead office as a draft."""
    return (
        await client.draft_typical_case(
            pb.DraftTypicalCaseRequest(request_id=request_id, typical_case=typical), metadata=lead
        )
    ).typical_case


async def publish_draft(
    client: CasesClient, md: Metadata, request_id: str, draft: str
) -> pb.TypicalCase:
    """Publish a vetted draft, by name alone."""
    return (
        await client.publish_typical_case(
            pb.PublishTypicalCaseRequest(
                request_id=request_id, typical_case=pb.TypicalCase(name=draft)
            ),
            metadata=md,
        )
    ).typical_case


# --- "nothing written" ---------------------------------------------------------------------

SUBJECTS = (
    pb.STATS_SUBJECT_CASES,
    pb.STATS_SUBJECT_CASE_STATES,
    pb.STATS_SUBJECT_MEASURES,
    pb.STATS_SUBJECT_SENTENCES,
    pb.STATS_SUBJECT_SENTENCE_MONTHS,
    pb.STATS_SUBJECT_ILLEGAL_GAINS,
    pb.STATS_SUBJECT_TYPICAL_CASES,
    pb.STATS_SUBJECT_HANDOVERS,
)


@dataclass(frozen=True)
class Snapshot:
    """What the service holds, as seen through its API: changes when anything is written."""

    audit_entries: int
    audit_head: str
    cases: tuple[tuple[str, str], ...]
    parties: tuple[tuple[str, str, int, bool], ...]
    events: int
    campaigns: tuple[tuple[str, str], ...]
    typical: tuple[str, ...]
    totals: tuple[int, ...]
    handovers: tuple[tuple[str, int], ...]


async def snapshot(client: CasesClient, campaigns: CasesClient, tokens: Tokens) -> Snapshot:
    office = tokens("office", "auditor", "analyst")
    verification = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=office)
    ).verification
    assert verification.ok, verification.problem
    entries = (
        (
            await client.list_audit_entries(
                pb.ListAuditEntriesRequest(page_size=1000), metadata=office
            )
        ).response
    ).entries
    cases = (
        (await client.list_cases(pb.ListCasesRequest(page_size=1000), metadata=office)).response
    ).cases
    parties: list[tuple[str, str, int, bool]] = []
    events = 0
    for c in cases:
        for p in (
            (
                await client.list_parties(
                    pb.ListPartiesRequest(parent=c.name, page_size=1000), metadata=office
                )
            ).response
        ).parties:
            parties.append((p.name, p.masked_name, len(p.measures), p.HasField("sentence")))
        events += len(await all_events(client, office, c.name, 1000))
    camps = (
        (
            await campaigns.list_campaigns(
                cpb.ListCampaignsRequest(page_size=1000), metadata=office
            )
        ).response
    ).campaigns
    typical = (
        (
            await client.list_typical_cases(
                pb.ListTypicalCasesRequest(page_size=1000), metadata=office
            )
        ).response
    ).typical_cases
    totals = [(await stats(client, office, s)).total.count for s in SUBJECTS]
    handovers: list[tuple[str, int]] = []
    for dept in ("office", "mps", "cac", "mct"):
        for incoming in (False, True):
            page = (
                await client.list_handovers(
                    pb.ListHandoversRequest(page_size=1000, incoming=incoming),
                    metadata=tokens(dept),
                )
            ).response
            handovers += [(h.name, h.state) for h in page.handovers]
    return Snapshot(
        verification.entries_checked,
        entries[-1].hash if entries else "",
        tuple((c.name, c.etag) for c in cases),
        tuple(parties),
        events,
        tuple((c.name, c.etag) for c in camps),
        tuple(t.name for t in typical),
        tuple(totals),
        tuple(sorted(handovers)),
    )
