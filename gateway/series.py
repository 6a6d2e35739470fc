"""Campaign series: the figures per UTC day, per department and in total (the dashboard's
charts), from the sources' counts per day, fanned out as the status is."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.clients import OK, Backends, Health, Metadata, per_source
from gateway.status import (
    FIGURE_SOURCE,
    MESSAGES,
    METRICS,
    Query,
    fetch_campaign,
    health_row,
    stats_request,
)
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.vocabulary import SOURCES

# (day, department) -> figure -> actions counted
Cells = dict[tuple[str, str], dict[str, int]]
BY_DAY = [common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_DAY]


async def _fetch_source(
    backends: Backends, source: str, query: Query, metadata: Metadata, budget: float
) -> Cells:
    """One source's counts per department and day: its queries in one call."""
    metrics = [m for m in METRICS if m.source == source]
    stub: Any = getattr(backends, source)
    batch = await stub.BatchGetStats(
        MESSAGES[source].BatchGetStatsRequest(
            requests=[stats_request(m, BY_DAY, query) for m in metrics]
        ),
        metadata=metadata,
        timeout=budget,
    )
    cells: Cells = defaultdict(dict)
    for metric, reply in zip(metrics, batch.responses, strict=True):
        for row in reply.rows:
            for figure in metric.figures:
                if figure.sums(row.action):
                    cell = cells[(row.day, row.department)]
                    cell[figure.name] = cell.get(figure.name, 0) + row.count
    return cells


def _figures(results: dict[str, Cells], day: str, department: str | None) -> pb.Figures:
    """A day's figures of one department (None: all); unset where the source did not answer."""
    figures = pb.Figures()
    for figure, source in FIGURE_SOURCE.items():
        cells = results.get(source)
        if cells is None:
            continue
        if department is not None:
            value = cells.get((day, department), {}).get(figure, 0)
        else:
            value = sum(c.get(figure, 0) for (d, _), c in cells.items() if d == day)
        setattr(figures, figure, value)
    return figures


def notes(results: dict[str, Cells]) -> list[pb.FigureNote]:
    return [
        pb.FigureNote(
            figure=figure.name,
            note=f"counts actions dated in each day, not distinct {figure.distinct_of}",
        )
        for metric in METRICS
        if metric.distinct and metric.source in results
        for figure in metric.figures
    ]


async def series(
    backends: Backends,
    query: Query,
    metadata: Metadata,
    budget: float,
    now: Timestamp,
    names: Mapping[str, str],
) -> pb.GetCampaignSeriesResponse:
    """Every source in parallel, and the campaign (its period; NOT_FOUND when there is no
    such campaign), each within the budget."""
    calls: dict[str, Callable[[float], Awaitable[Cells]]] = {
        s: partial(_fetch_source, backends, s, query, metadata) for s in SOURCES
    }
    (results, health), campaign = await asyncio.gather(
        per_source(budget, calls), fetch_campaign(backends, query.campaign_id, metadata, budget)
    )
    return compose(
        query,
        results,
        health,
        campaign.start_time if campaign else None,
        campaign.end_time if campaign else None,
        now,
        names,
    )


def compose(
    query: Query,
    results: dict[str, Cells],
    health: dict[str, Health],
    start: Timestamp | None,
    end: Timestamp | None,
    now: Timestamp,
    names: Mapping[str, str],
) -> pb.GetCampaignSeriesResponse:
    days = sorted({day for cells in results.values() for day, _ in cells})
    seen = {d for cells in results.values() for _, d in cells}
    wanted = list(query.departments) or [d for d in names if d in seen]
    reply = pb.GetCampaignSeriesResponse(
        campaign_id=query.campaign_id,
        days=[
            pb.SeriesDay(
                day=day,
                departments=[
                    pb.DepartmentFigures(
                        department=d,
                        department_name=names.get(d, d),
                        figures=_figures(results, day, d),
                    )
                    for d in wanted
                ],
                total=_figures(results, day, None),
            )
            for day in days
        ],
        sources=[health_row(h) for h in health.values()],
        complete=all(h.state == OK for h in health.values()),
        as_of=now,
        figure_notes=notes(results),
    )
    for field, bound in (("start_time", query.start or start), ("end_time", query.end or end)):
        if bound is not None:
            getattr(reply, field).CopyFrom(bound)
    return reply
