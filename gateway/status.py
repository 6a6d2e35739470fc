"""Campaign status: the stats queries the figures are read from (netnet.vocabulary), the
fan-out, and the composition."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.clients import OK, Backends, Health, Metadata, per_source
from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2
from netnet.vocabulary import FIGURES, SOURCES, Figure
from services.common.catalogue import REFUSALS
from services.common.errors import NotFound

# scope -> key -> figure -> value; None: the source cannot count it exactly for this query
Table = dict[str, dict[str, dict[str, int | None]]]


@dataclass(frozen=True)
class Metric:
    """One stats query (a source's subject, by action or not) and the figures read off its
    rows."""

    source: str
    subject: int  # the source's StatsSubject
    by_action: bool
    figures: tuple[Figure, ...]
    distinct: bool  # distinct subjects where exact (suspects, sites, accounts), else records


def _metrics(figures: tuple[Figure, ...]) -> tuple[Metric, ...]:
    """The figures grouped into the queries that read them, in the figures' order."""
    groups: dict[tuple[str, int, bool, bool], list[Figure]] = {}
    for f in figures:
        groups.setdefault((f.source, f.subject, f.by_action, f.distinct), []).append(f)
    return tuple(
        Metric(source, subject, by_action, tuple(fs), distinct)
        for (source, subject, by_action, distinct), fs in groups.items()
    )


METRICS = _metrics(FIGURES)
SCOPES = {
    "department": common_pb2.DIMENSION_DEPARTMENT,
    "special_action": common_pb2.DIMENSION_SPECIAL_ACTION,
    "total": 0,
}
FIGURE_SOURCE = {f.name: f.source for f in FIGURES}


@dataclass(frozen=True)
class Query:
    campaign_id: str
    departments: tuple[str, ...]
    start: Timestamp | None
    end: Timestamp | None

    def covers(self, campaign: campaigns_pb2.Campaign) -> bool:
        """The period holds the campaign's whole period (where every record of the campaign
        is dated), so the figures are those of the campaign without a period."""
        return (
            self.start is None
            or self.start.ToMicroseconds() <= campaign.start_time.ToMicroseconds()
        ) and (self.end is None or self.end.ToMicroseconds() >= campaign.end_time.ToMicroseconds())

    @property
    def dated(self) -> bool:
        """A period narrower than the campaign's: figures from the counts per day."""
        return self.start is not None or self.end is not None

    def stats_filter(self) -> common_pb2.StatsFilter:
        f = common_pb2.StatsFilter(campaign_id=self.campaign_id, departments=list(self.departments))
        if self.start is not None:
            f.start_time.CopyFrom(self.start)
        if self.end is not None:
            f.end_time.CopyFrom(self.end)
        return f


MESSAGES: dict[str, Any] = {"accounts": accounts_pb2, "sites": sites_pb2, "cases": cases_pb2}


def stats_request(metric: Metric, dimensions: list[int], query: Query) -> Any:
    """The GetStatsRequest of a metric under query, grouped by dimensions (and by action
    where the metric reads its figures off actions)."""
    group_by = list(dimensions)
    if metric.by_action:
        group_by.append(common_pb2.DIMENSION_ACTION)
    request = MESSAGES[metric.source].GetStatsRequest(
        filter=query.stats_filter(), group_by=group_by
    )
    if metric.subject:
        request.subject = metric.subject
    return request


async def _fetch_source(
    backends: Backends, source: str, query: Query, metadata: Metadata, budget: float
) -> Table:
    """One source's figures: all its queries in one call, answered from one snapshot."""
    plan = [(m, scope) for m in METRICS if m.source == source for scope in SCOPES]
    stub: Any = getattr(backends, source)
    batch = await stub.BatchGetStats(
        MESSAGES[source].BatchGetStatsRequest(
            requests=[
                stats_request(m, [d for d in (SCOPES[scope],) if d], query) for m, scope in plan
            ]
        ),
        metadata=metadata,
        timeout=budget,
    )
    replies = list(batch.responses)
    table: Table = defaultdict(lambda: defaultdict(dict))
    for (metric, scope), reply in zip(plan, replies, strict=True):
        rows = list(reply.rows) if scope != "total" or metric.by_action else [reply.total]
        for row in rows:
            key = "" if scope == "total" else getattr(row, scope)
            # Distinct subjects are exact only for some filters (not across several
            # departments): a record count in their place would be a wrong figure, so the
            # figure stays unknown (unset) rather than overstated. Within a period narrower
            # than the campaign's, distinct subjects are not kept (counts per day are): there
            # the figure counts actions, and the status says so (figure_notes).
            by_actions = metric.distinct and query.dated
            exact = (
                not metric.distinct
                or by_actions
                or row.HasField("distinct_subjects")
                or not row.count
            )
            value = row.distinct_subjects if metric.distinct and not by_actions else row.count
            for figure in metric.figures:
                if figure.sums(row.action):
                    cell = table[scope][key]
                    known = cell.get(figure.name, 0)
                    cell[figure.name] = known + value if exact and known is not None else None
    return table


async def fetch_campaign(
    backends: Backends, campaign_id: str, metadata: Metadata, budget: float
) -> campaigns_pb2.Campaign | None:
    """The campaign from its owner; None when the cases service does not answer (its health
    row says so); a campaign that does not exist is NOT_FOUND for the whole status."""
    try:
        reply = await asyncio.wait_for(
            backends.campaigns.GetCampaign(
                campaigns_pb2.GetCampaignRequest(name=f"campaigns/{campaign_id}"),
                metadata=metadata,
                timeout=budget,
            ),
            budget,
        )
    except grpc.aio.AioRpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(f"campaigns/{campaign_id} not found") from None
        if e.code() in REFUSALS:  # the caller's own credentials, refused by the owner
            raise REFUSALS[e.code()](e.details() or "campaigns are not readable") from None
        return None
    except TimeoutError:
        return None
    return reply.campaign  # type: ignore[no-any-return]


async def fetch(
    backends: Backends, query: Query, metadata: Metadata, budget: float
) -> tuple[Query, dict[str, Table], dict[str, Health], campaigns_pb2.Campaign | None]:
    """Every source in parallel, and the campaign, each within the budget. For a period, the
    campaign is learnt first (within half the budget): a period that holds the campaign's
    whole period is asked without one, so its distinct figures are exact. Returns the query
    as asked of the sources."""
    started = time.perf_counter()
    if query.dated:
        campaign = await fetch_campaign(backends, query.campaign_id, metadata, budget / 2)
        if campaign is not None and query.covers(campaign):
            query = replace(query, start=None, end=None)
        budget = max(0.0, budget - (time.perf_counter() - started))
        results, health = await per_source(budget, _calls(backends, query, metadata))
        return query, results, health, campaign
    (results, health), campaign = await asyncio.gather(
        per_source(budget, _calls(backends, query, metadata)),
        fetch_campaign(backends, query.campaign_id, metadata, budget),
    )
    return query, results, health, campaign


def _calls(
    backends: Backends, query: Query, metadata: Metadata
) -> dict[str, Callable[[float], Any]]:
    return {source: partial(_fetch_source, backends, source, query, metadata) for source in SOURCES}


def notes(query: Query, tables: dict[str, Table]) -> list[pb.FigureNote]:
    """What the figures of a period narrower than the campaign's count, and why."""
    if not query.dated:
        return []
    out = []
    for metric in METRICS:
        if not metric.distinct or metric.source not in tables:
            continue
        for figure in metric.figures:
            subjects = figure.distinct_of
            out.append(
                pb.FigureNote(
                    figure=figure.name,
                    note=f"counts actions dated in the period, not distinct {subjects}: "
                    f"distinct {subjects} are counted over the campaign's whole period only "
                    "(ask without a period, or for the campaign's period)",
                )
            )
    return out


def _figures(tables: dict[str, Table], scope: str, key: str) -> pb.Figures:
    figures = pb.Figures()
    for figure, source in FIGURE_SOURCE.items():
        table = tables.get(source)
        if table is not None:  # an unanswered source leaves its figures unset
            value = table[scope][key].get(figure, 0) if key in table[scope] else 0
            if value is not None:
                setattr(figures, figure, value)
    return figures


def health_row(h: Health) -> pb.SourceHealth:
    return pb.SourceHealth(
        source=h.source,
        state=h.state,  # type: ignore[arg-type]
        error=h.error,
        latency_ms=round(h.latency_ms, 2),
    )


def compose(
    query: Query,
    tables: dict[str, Table],
    health: dict[str, Health],
    campaign: campaigns_pb2.Campaign | None,
    now: Timestamp,
    names: Mapping[str, str],
) -> pb.CampaignStatus:
    """The status of query from the sources' tables; names: the departments' (code -> name)."""
    seen = {k for t in tables.values() for k in t["department"]}
    wanted = list(query.departments) or [d for d in names if d in seen]
    titles = {s.id: s.title for s in campaign.special_actions} if campaign else {}
    specials = sorted({k for t in tables.values() for k in t["special_action"] if k} | set(titles))
    status = pb.CampaignStatus(
        campaign_id=query.campaign_id,
        campaign_title=campaign.title if campaign else "",
        departments=[
            pb.DepartmentFigures(
                department=d,
                department_name=names.get(d, d),
                figures=_figures(tables, "department", d),
            )
            for d in wanted
        ],
        special_actions=[
            pb.SpecialActionFigures(
                special_action=s,
                title=titles.get(s, s),
                figures=_figures(tables, "special_action", s),
            )
            for s in specials
        ],
        total=_figures(tables, "total", ""),
        sources=[health_row(h) for h in health.values()],
        complete=all(h.state == OK for h in health.values()),
        as_of=now,
        figure_notes=notes(query, tables),
    )
    start = query.start or (campaign.start_time if campaign else None)
    end = query.end or (campaign.end_time if campaign else None)
    if start is not None:
        status.start_time.CopyFrom(start)
    if end is not None:
        status.end_time.CopyFrom(end)
    return status
