"""What a record naming a campaign must agree with: the campaign exists, names the special
action, and its period holds the time the thing happened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from services.common.errors import Violations
from services.common.reference import is_slug


@dataclass(frozen=True)
class Campaign:
    """What a record naming a campaign is checked against."""

    id: str
    start_us: int
    end_us: int  # exclusive
    special_actions: frozenset[str]


def _day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check(
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    campaign_id: str,
    special_action: str,
    time_us: int | None,
    time_field: str,
    prefix: str = "",
) -> None:
    """A record's campaign must exist, its special action be one of that campaign's, and the
    time the thing happened (time_us; now when the caller gave none; None for a record not
    dated) lie within the campaign's period: every record of a campaign is dated inside it."""
    if not campaign_id or not is_slug(campaign_id):
        return  # no campaign, or a malformed id the record's own checks name
    c = campaigns.get(campaign_id)
    if c is None:
        v.add(f"{prefix}campaign_id", f"no campaign {campaign_id!r}")
        return
    if special_action and is_slug(special_action) and special_action not in c.special_actions:
        v.add(
            f"{prefix}special_action",
            f"{special_action!r} is not a special action of campaign {campaign_id!r}",
        )
    if time_us is not None and not c.start_us <= time_us < c.end_us:
        v.add(
            f"{prefix}{time_field}",
            f"outside campaign {campaign_id!r} (from {_day(c.start_us)} to before "
            f"{_day(c.end_us)}): give the time it happened",
        )
