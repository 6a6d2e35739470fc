"""An import sent faster than the store writes is slowed by flow control, never buffered
without bound: a real accounts server process whose SQLite write lock another connection holds
three quarters of the time, a client streaming ~47 MB at full speed (bench/flow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.flow import measure

pytestmark = pytest.mark.slow

MB = 1 << 20


async def test_a_fast_import_into_a_slow_store_keeps_the_servers_memory_flat(
    tmp_path: Path,
) -> None:
    flow = await measure(tmp_path, 30_000, batch=200, long_basis=True)
    print(flow.report())
    assert flow.accepted == flow.records
    assert flow.stream_bytes > 40 * MB
    assert flow.lock_waits > 0  # the store was slowed
    # Had the server kept what it could not write yet, it would have grown by the stream's
    # size or more (messages in memory weigh more than on the wire); it stays well under, a
    # generous bound on a memory, not a speed (measured: +16 MB).
    assert flow.growth < 32 * MB, flow.report()
    # The client was held back: its last message went out only as the store caught up.
    assert flow.sent > flow.seconds / 2, flow.report()
