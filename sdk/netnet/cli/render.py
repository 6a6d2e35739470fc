"""How a campaign status reads in a terminal: a table per department and in total."""

from __future__ import annotations

from rich.table import Table

from netnet import vocabulary as v
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.vocabulary import Figure

# A column's label and the figures it adds up (every figure but the illegal gains).
COLUMNS: tuple[tuple[str, tuple[Figure, ...]], ...] = (
    ("cases", (v.CASES_ADMINISTRATIVE, v.CASES_CRIMINAL)),
    ("detained", (v.SUSPECTS_DETAINED,)),
    ("arrested", (v.SUSPECTS_ARRESTED,)),
    ("sites banned or closed", (v.SITES_BANNED_OR_CLOSED,)),
    ("sites closed", (v.SITES_CLOSED,)),
    ("sites banned", (v.SITES_BANNED,)),
    ("apps notified", (v.APPS_NOTIFIED,)),
    ("apps removed", (v.APPS_REMOVED,)),
    ("batches", (v.NOTICE_BATCHES,)),
    ("accounts", (v.ACCOUNTS_HANDLED,)),
    ("groups handled", (v.GROUPS_HANDLED,)),
    ("groups closed", (v.GROUPS_CLOSED,)),
    ("content direct", (v.CONTENT_DIRECT,)),
    ("by platforms", (v.CONTENT_PLATFORM,)),
    ("typical", (v.TYPICAL_CASES,)),
)


def cell(figures: pb.Figures, fields: tuple[Figure, ...]) -> str:
    if not all(figures.HasField(f.name) for f in fields):  # type: ignore[arg-type]
        return "n/a"  # its source did not answer: unknown, not zero
    return f"{sum(getattr(figures, f.name) for f in fields):,}"


def rows(status: pb.CampaignStatus) -> list[list[str]]:
    body = [[d.department, *(cell(d.figures, f) for _, f in COLUMNS)] for d in status.departments]
    return [*body, ["total", *(cell(status.total, f) for _, f in COLUMNS)]]


def health(status: pb.CampaignStatus) -> str:
    return ", ".join(
        f"{s.source} {pb.SourceState.Name(s.state).removeprefix('SOURCE_STATE_').lower()}"
        + (f" ({s.error})" if s.error else "")
        for s in status.sources
    )


def table(status: pb.CampaignStatus) -> Table:
    """Figures down, departments across: fits a terminal however many figures there are."""
    scopes = [(d.department, d.figures) for d in status.departments]
    scopes.append(("total", status.total))
    out = Table(
        title=status.campaign_title or status.campaign_id, caption=f"sources: {health(status)}"
    )
    out.add_column("")
    for name, _ in scopes:
        out.add_column(name, justify="right", style="bold" if name == "total" else None)
    for label, fields in COLUMNS:
        out.add_row(label, *(cell(figures, fields) for _, figures in scopes))
    return out


def text(status: pb.CampaignStatus) -> str:
    """The same table as plain text (logs, pipes)."""
    body = [["department", *(c for c, _ in COLUMNS)], *rows(status)]
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    lines = [status.campaign_title or status.campaign_id]
    for n, row in enumerate(body):
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n in (0, len(body) - 2):
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"sources: {health(status)}")
    return "\n".join(lines)
