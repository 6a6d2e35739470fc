"""The region rule of need-to-know: which token regions cover which records."""

from __future__ import annotations

import pytest

from services.cases.domain import (
    Case,
    Facts,
    area_prefix,
    can_view,
    covers,
    leads,
    require_area,
    sees_real_names,
)
from services.common.context import Principal
from services.common.errors import PermissionDenied


@pytest.mark.parametrize(
    ("area", "region", "expected"),
    [
        ("", "330700", True),  # national
        ("", "", True),
        ("330000", "330700", True),  # the province contains the city
        ("330000", "330781", True),
        ("330700", "330700", True),
        ("330700", "330781", True),  # the city contains the county
        ("330781", "330781", True),
        ("330781", "330700", False),  # a county does not cover its city
        ("330700", "330800", False),  # another city of the province
        ("110000", "330700", False),
        ("110000", "110105", True),  # a municipality's districts
        ("330000", "", False),  # a national record is for national tokens
        ("330000", "340000", False),
    ],
)
def test_covers(area: str, region: str, expected: bool) -> None:
    assert covers(area, region) is expected


def _case(region: str, assisting: list[str], provinces: list[str]) -> Case:
    return Case(
        1, "JH-1", "t", 2, "mps", region, assisting, provinces, "", "", ["obscene"], 1,
        Facts(), [], 0, 0, 1,
    )  # fmt: skip


def _p(department: str, region: str) -> Principal:
    return Principal("op", department, region, frozenset({"operator"}))


def test_lead_assisting_and_office() -> None:
    case = _case("330700", ["cac"], ["330000", "440000"])
    assert leads(_p("mps", "330000"), case) and sees_real_names(_p("mps", ""), case)
    assert not leads(_p("mps", "110000"), case) and not can_view(_p("mps", "110000"), case)
    # Assisting and coordinating offices: an area the case involves, either way round.
    for dept in ("cac", "office"):
        assert can_view(_p(dept, "440300"), case)  # Shenzhen, in a province involved
        assert can_view(_p(dept, "330781"), case)  # a county in the lead city
        assert not can_view(_p(dept, "110000"), case)
        assert not sees_real_names(_p(dept, ""), case)
    assert not can_view(_p("miit", ""), case)


@pytest.mark.parametrize(
    ("area", "prefix"),
    [("", ""), ("330000", "33"), ("330700", "3307"), ("330781", "330781"), ("110000", "11")],
)
def test_area_prefix(area: str, prefix: str) -> None:
    assert area_prefix(area) == prefix


@pytest.mark.parametrize(
    ("area", "region", "allowed"),
    [("", "", True), ("", "330781", True), ("330000", "330781", True), ("330700", "", False)],
)
def test_an_office_writes_only_in_its_own_area(area: str, region: str, allowed: bool) -> None:
    if allowed:
        require_area(_p("mps", area), region, "case")
        return
    with pytest.raises(PermissionDenied) as e:
        require_area(_p("mps", area), region, "case")
    assert e.value.reason == "WRONG_REGION"
    assert "(national)" in e.value.message
