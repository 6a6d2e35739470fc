"""Each cases audit entry commits to the append-only rows its write produced (the case's
timeline, coercive measures, typical cases): one edited or deleted in the database file is
found, with the entry that wrote it."""

from __future__ import annotations

import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from services.common.server import RunningServer
from tests.service.cases.test_integrity import _some_changes
from tests.support.audit import execute
from tests.support.servers import Tokens

OWN_CAMPAIGNS = True  # _some_changes makes its campaign

# _some_changes' entries: 1 creates the campaign, 2 the case (event 1), 3 adds a party
# (event 2), 4 moves the case on (event 3), 5-7 a clue and its hand-over, 8 drafts a typical
# case (event 4, typical case 1's text), 9 publishes it (event 5, typical case 1 as published).


async def _verify(client: CasesClient, tokens: Tokens) -> common_pb2.AuditVerification:
    md = tokens("office", "auditor")
    return (await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md)).verification


@pytest.mark.parametrize(
    ("sql", "first_bad", "problem"),
    [
        (
            "UPDATE case_events SET detail = 'registered' WHERE id = 3",
            4,
            "rows differ from what entry 4 wrote",
        ),
        ("DELETE FROM case_events WHERE id = 2", 3, "case_events rows 2 of entry 3"),
        (
            "UPDATE typical_cases SET summary = 'nothing happened' WHERE id = 1",
            8,
            "rows differ from what entry 8 wrote",
        ),
        ("DELETE FROM typical_cases WHERE id = 1", 8, "typical_cases rows 1 of entry 8"),
        (
            "UPDATE typical_cases SET published_by = 'mallory' WHERE id = 1",
            9,
            "rows differ from what entry 9 wrote",
        ),
    ],
    ids=[
        "edit-event",
        "delete-event",
        "edit-typical-case",
        "delete-typical-case",
        "edit-publication",
    ],
)
async def test_an_edited_or_deleted_record_is_detected(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
    problem: str,
) -> None:
    await _some_changes(client, campaigns, tokens, clock)
    before = await _verify(client, tokens)
    assert before.ok
    execute(server.runtime.settings, sql)
    v = await _verify(client, tokens)
    assert not v.ok
    assert (v.first_bad_seq, v.entries_checked) == (first_bad, first_bad - 1)
    assert problem in v.problem
    assert before.data_rows_checked == 7  # 5 events, the draft's text, the published row
