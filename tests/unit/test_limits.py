"""The limiter alone: token buckets per operator and per department, stream counts, roles,
bounded memory, and NETNET_LIMITS read strictly."""

from __future__ import annotations

import pytest

from services.common.config import ConfigError, limits
from services.common.context import Principal
from services.common.errors import ResourceExhausted
from services.common.limits import DEFAULTS, Limiter, parse


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def who(operator: str = "ann", department: str = "cac", *roles: str) -> Principal:
    return Principal(operator, department, "", frozenset(roles or ("operator",)))


def refused(call: object, *args: object) -> ResourceExhausted:
    with pytest.raises(ResourceExhausted) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_the_rate_refills_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = Limiter(parse('{"operator": {"rate": 2, "burst": 3}}'), clock)
    for _ in range(3):
        limiter.admit(who())
    error = refused(limiter.admit, who())
    assert error.reason == "RATE_LIMITED"
    assert error.retry_after == pytest.approx(0.5)
    assert error.metadata == {"scope": "operator", "role": "operator", "rate": "2"}
    clock.now += 0.5
    limiter.admit(who())  # one token back
    refused(limiter.admit, who())
    limiter.admit(who("bob"))  # another operator has a bucket of their own


def test_operators_of_a_department_share_its_rate_and_a_refusal_takes_nothing() -> None:
    clock = Clock()
    limiter = Limiter(parse('{"operator": {"burst": 5, "department": {"burst": 3}}}'), clock)
    limiter.admit(who("ann"))
    limiter.admit(who("ann"))
    limiter.admit(who("bob"))
    assert refused(limiter.admit, who("bob")).metadata["scope"] == "department"
    assert refused(limiter.admit, who("ann")).metadata["scope"] == "department"
    limiter.admit(who("cat", "mps"))  # another department
    # The refused calls took no token from the operators' own buckets: after the department
    # refills by one call, ann still has three of her five.
    clock.now += 1.0 / DEFAULTS["operator"].department.rate * 3
    for _ in range(3):
        limiter.admit(who("ann"))


def test_a_role_has_its_own_limits_and_several_roles_take_the_first_in_precedence() -> None:
    limiter = Limiter(parse('{"analyst": {"burst": 1}, "operator": {"burst": 2}}'), Clock())
    limiter.admit(who("ann", "cac", "analyst"))
    assert refused(limiter.admit, who("ann", "cac", "analyst")).metadata["role"] == "analyst"
    limiter.admit(who("ann", "cac", "operator"))  # the same person as an operator: apart
    limiter.admit(who("ann", "cac", "operator"))
    # analyst comes before operator: a token with both is limited as an analyst
    assert limiter.role_of(who("x", "cac", "operator", "analyst")) == "analyst"


def test_streams_are_counted_while_open_per_kind() -> None:
    limiter = Limiter(parse('{"*": {"watches": 2, "imports": 1, "department": {"watches": 3}}}'))
    first, second = limiter.open(who("ann"), "watches"), limiter.open(who("ann"), "watches")
    error = refused(limiter.open, who("ann"), "watches")
    assert (error.reason, error.metadata["scope"], error.retry_after) == (
        "TOO_MANY_STREAMS",
        "operator",
        1.0,
    )
    limiter.open(who("ann"), "imports")  # another kind: counted apart
    third = limiter.open(who("bob"), "watches")
    assert refused(limiter.open, who("bob"), "watches").metadata["scope"] == "department"
    first()
    first()  # a release counts once
    limiter.open(who("bob"), "watches")
    second()
    third()
    assert len(limiter._open) == 4  # only keys with open streams: bob's watch, ann's import


def test_memory_is_bounded_and_idle_buckets_go() -> None:
    clock = Clock()
    limiter = Limiter(parse('{"operator": {"rate": 10, "burst": 10}}'), clock, max_buckets=50)
    for i in range(1000):
        limiter.admit(who(f"op{i}"))
    assert len(limiter) <= 50
    clock.now += 10.0  # every bucket has refilled: a fresh one is the same, so they go
    limiter.admit(who("late"))
    assert len(limiter) == 2  # late's and its department's


def test_netnet_limits_is_read_strictly() -> None:
    assert limits({}) == DEFAULTS
    got = limits({"NETNET_LIMITS": '{"*": {"rate": 5}, "analyst": {"department": {"watches": 1}}}'})
    assert (got["admin"].operator.rate, got["admin"].operator.burst) == (5.0, 5)
    assert got["analyst"].department.watches == 1
    assert got["analyst"].operator.rate == 5.0
    for bad, says in [
        ("{", "not JSON"),
        ('{"boss": {}}', "unknown role 'boss'"),
        ('{"operator": {"rate": -1}}', "operator.rate=-1"),
        ('{"operator": {"rate": "fast"}}', "is not a number"),
        ('{"operator": {"department": {"burst": 0}}}', "operator.department.burst=0"),
        ('{"operator": {"streams": 2}}', "unknown key 'streams'"),
    ]:
        with pytest.raises(ConfigError, match="NETNET_LIMITS") as caught:
            limits({"NETNET_LIMITS": bad})
        assert says in str(caught.value)
