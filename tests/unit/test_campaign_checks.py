"""What a record naming a campaign must agree with (services/common/campaigns.py)."""

from __future__ import annotations

import pytest

from services.common.campaigns import Campaign, check
from services.common.errors import Violations

START, END = 1_609_459_200_000_000, 1_640_995_200_000_000  # 2021, end exclusive
CAMPAIGNS: dict[str, Campaign | None] = {
    "qinglang-2021": Campaign("qinglang-2021", START, END, frozenset({"minors", "summer"})),
    "gone": None,  # its owner says there is no such campaign
}


def _bad(
    campaign_id: str,
    special_action: str = "",
    time_us: int | None = START,
    prefix: str = "",
) -> list[str]:
    v = Violations()
    check(v, CAMPAIGNS, campaign_id, special_action, time_us, "effective_time", prefix)
    return [x.field for x in v.items]


def test_no_campaign_is_no_check() -> None:
    assert _bad("", "minors", 0) == []


def test_a_malformed_id_is_left_to_the_record_s_own_checks() -> None:
    assert _bad("Not A Slug", "nope", 0) == []


@pytest.mark.parametrize("campaign_id", ["no-such", "gone"])
def test_an_unknown_campaign(campaign_id: str) -> None:
    # Nothing more is checked against a campaign that does not exist.
    assert _bad(campaign_id, "minors", 0) == ["campaign_id"]


def test_the_special_action_must_be_the_campaign_s() -> None:
    assert _bad("qinglang-2021", "minors") == []
    assert _bad("qinglang-2021", "summer") == []
    assert _bad("qinglang-2021", "fan-circle") == ["special_action"]
    assert _bad("qinglang-2021", "Bad Slug") == []  # the record's own checks name it


@pytest.mark.parametrize(
    ("time_us", "inside"),
    [
        (START, True),  # the start is inside
        (START - 1, False),
        (END - 1, True),
        (END, False),  # the end is not
        (None, True),  # a record that is not dated
    ],
)
def test_the_time_must_lie_within_the_period(time_us: int | None, inside: bool) -> None:
    assert _bad("qinglang-2021", "", time_us) == ([] if inside else ["effective_time"])


def test_every_bad_field_at_once_under_the_prefix() -> None:
    got = _bad("qinglang-2021", "fan-circle", END, "actions[3].")
    assert got == ["actions[3].special_action", "actions[3].effective_time"]
    assert _bad("nope", prefix="actions[0].") == ["actions[0].campaign_id"]


def test_the_period_is_named_in_the_description() -> None:
    v = Violations()
    check(v, CAMPAIGNS, "qinglang-2021", "", END, "filed_time")
    (item,) = v.items
    assert item.field == "filed_time"
    assert "2021-01-01 00:00:00 UTC" in item.description
    assert "2022-01-01 00:00:00 UTC" in item.description
