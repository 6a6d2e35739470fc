"""Time as integer microseconds since the epoch (UTC), with a clock tests can set."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache


class Clock:
    def now_us(self) -> int:
        return time.time_ns() // 1000


class ManualClock(Clock):
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start_us: int) -> None:
        self.current = start_us

    def now_us(self) -> int:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += int(seconds * 1_000_000)


DAY_US = 86_400 * 1_000_000


def day_of(us: int) -> str:
    return _day(us // DAY_US)


@lru_cache(maxsize=1024)
def _day(day: int) -> str:
    """YYYY-MM-DD of a day number since the epoch (a batch repeats a few days many times)."""
    # isoformat: the year always four digits, so days compare as text (year 999 before 2021).
    return datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()
