"""The soak's 60-second form (make soak runs it for SOAK_SECONDS): the four processes under
load from several departments while each in turn is restarted by SIGTERM or SIGKILL; only
the correctness part is asserted — every acknowledged record stored once, the figures equal to
the ledger's count, the audit chains whole, the resumed watchers complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import soak

pytestmark = [pytest.mark.slow, pytest.mark.soak]


async def test_a_minute_of_restarts_under_load_loses_doubles_and_misses_nothing(
    tmp_path: Path,
) -> None:
    result = await soak.run(60, tmp_path)
    assert not result.failures, "\n".join(result.failures)
    # Every process restarted, by SIGTERM and by SIGKILL (every 10 s: five restarts).
    assert {name for _, name, _, _ in result.restarts} == set(soak.ORDER), result.restarts
    assert {sig for _, _, sig, _ in result.restarts} == {"SIGTERM", "SIGKILL"}, result.restarts
    assert all(result.acknowledged.values()), result.acknowledged
    # Each source's watcher lived through its service's restart by resuming.
    assert all(w.resumed for w in result.watchers), [
        (w.service, w.resumed) for w in result.watchers
    ]
