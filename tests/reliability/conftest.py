from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.reliability.support import ServiceProcess


@pytest.fixture
async def accounts_process(
    data_dir: Path,
) -> AsyncIterator[Callable[..., ServiceProcess]]:
    """accounts_process(**env) -> a ServiceProcess on the test's data dir (not started yet);
    any still running at the end is killed."""
    made: list[ServiceProcess] = []

    def make(**env: str) -> ServiceProcess:
        process = ServiceProcess(data_dir, env)
        made.append(process)
        return process

    yield make
    for process in made:
        await process.kill()
