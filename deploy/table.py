"""A campaign status as a plain-text table, for terminals and logs."""

from __future__ import annotations

from netnet.gateway.v1 import gateway_pb2 as pb

COLUMNS = (
    ("cases", ("cases_administrative", "cases_criminal")),
    ("detained", ("suspects_detained",)),
    ("arrested", ("suspects_arrested",)),
    ("sites closed", ("sites_closed",)),
    ("sites banned", ("sites_banned",)),
    ("apps notified", ("apps_notified",)),
    ("apps removed", ("apps_removed",)),
    ("batches", ("notice_batches",)),
    ("accounts", ("accounts_handled",)),
    ("groups", ("groups_closed",)),
    ("content direct", ("content_direct",)),
    ("by platforms", ("content_platform",)),
    ("typical", ("typical_cases",)),
)


def cell(figures: pb.Figures, fields: tuple[str, ...]) -> str:
    if not all(figures.HasField(f) for f in fields):  # type: ignore[arg-type]
        return "n/a"  # its source did not answer: unknown, not zero
    return f"{sum(getattr(figures, f) for f in fields):,}"


def render(status: pb.CampaignStatus) -> str:
    rows = [["department", *(c for c, _ in COLUMNS)]]
    rows += [[d.department, *(cell(d.figures, f) for _, f in COLUMNS)] for d in status.departments]
    rows.append(["total", *(cell(status.total, f) for _, f in COLUMNS)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{status.campaign_title or status.campaign_id}"]
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    health = ", ".join(
        f"{s.source} {pb.SourceState.Name(s.state).removeprefix('SOURCE_STATE_').lower()}"
        + (f" ({s.error})" if s.error else "")
        for s in status.sources
    )
    lines.append(f"sources: {health}")
    return "\n".join(lines)
