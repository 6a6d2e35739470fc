"""Each sites audit entry commits to the rows its write produced: an action or disposition
edited or deleted in the database file is found, with the entry that wrote it."""

from __future__ import annotations

import pytest

from netnet.client import SitesClient
from services.common.clock import ManualClock
from services.common.server import RunningServer
from tests.service.sites.test_integrity import _mutations, _verify
from tests.support.audit import execute
from tests.support.servers import Tokens

# _mutations' entries: 1 and 2 record site actions 1 and 2, 3 retracts action 2, 4 records
# disposition 1, 5 imports disposition 2, 6 and 7 make a notice batch, 8 publishes it
# (site action 3).


@pytest.mark.parametrize(
    ("sql", "first_bad", "problem"),
    [
        (
            "UPDATE site_actions SET category = 'fraud' WHERE id = 1",
            1,
            "rows differ from what entry 1 wrote",
        ),
        ("DELETE FROM site_actions WHERE id = 3", 8, "site_actions rows 3 of entry 8"),
        (
            "UPDATE site_actions SET retract_reason = 'other' WHERE id = 2",
            3,
            "rows differ from what entry 3 wrote",
        ),
        (
            "UPDATE dispositions SET locator = 'https://elsewhere.example/x' WHERE id = 2",
            5,
            "rows differ from what entry 5 wrote",
        ),
        ("DELETE FROM dispositions WHERE id = 1", 4, "dispositions rows 1 of entry 4"),
    ],
    ids=[
        "edit-action",
        "delete-published-notice",
        "edit-retraction",
        "edit-imported-disposition",
        "delete-disposition",
    ],
)
async def test_an_edited_or_deleted_record_is_detected(
    client: SitesClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
    problem: str,
) -> None:
    await _mutations(client, tokens, clock)
    before = await _verify(client, tokens)
    assert before.ok
    execute(server.runtime.settings, sql)
    v = await _verify(client, tokens)
    assert not v.ok
    assert (v.first_bad_seq, v.entries_checked) == (first_bad, first_bad - 1)
    assert problem in v.problem
    assert before.data_rows_checked == 6
