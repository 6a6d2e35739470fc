from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.reliability.support import ServiceProcess
from tests.support.servers import CampaignOwner


@pytest.fixture
async def accounts_process(
    data_dir: Path, campaign_owner: CampaignOwner
) -> AsyncIterator[Callable[..., ServiceProcess]]:
    """accounts_process(**env) -> a ServiceProcess on the test's data dir (not started yet),
    learning campaigns from the session's campaign owner (whose key it shares); any still
    running at the end is killed."""
    made: list[ServiceProcess] = []

    def make(**env: str) -> ServiceProcess:
        shared = {
            "NETNET_KEY_FILE": str(campaign_owner.key_file),
            "NETNET_CASES_ADDR": campaign_owner.addr,
        }
        process = ServiceProcess(data_dir, {**shared, **env})
        made.append(process)
        return process

    yield make
    for process in made:
        await process.kill()
