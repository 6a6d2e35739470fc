"""The names the real services count under are the vocabulary's: every stats row of every
subject carries a name netnet.vocabulary lists for that subject, and the records written
through the services' APIs are counted under the names of the values they were written with."""

from __future__ import annotations

from typing import Any

import pytest

from netnet import vocabulary as v
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.conftest import Tokens
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Api, Recorder
from tests.service.gateway.test_status import C1, seed

MESSAGES: dict[str, Any] = {v.ACCOUNTS: apb, v.SITES: spb, v.CASES: cpb}


@pytest.fixture
async def rec(stack: Stack, tokens: Tokens, clock: ManualClock) -> Recorder:
    recorder = Recorder(Api.of(stack), tokens, clock)
    await seed(recorder)
    return recorder


async def test_every_stats_row_carries_a_name_of_its_subjects_vocabulary(
    rec: Recorder, stack: Stack, tokens: Tokens
) -> None:
    counted: dict[v.Subject, set[str]] = {}
    for source, subject in v.COUNTED:
        messages = MESSAGES[source]
        reply = await getattr(stack, source).GetStats(
            messages.GetStatsRequest(
                filter=common_pb2.StatsFilter(campaign_id=C1),
                group_by=[common_pb2.DIMENSION_ACTION],
                subject=subject,
            ),
            metadata=tokens("office"),
            timeout=5,
        )
        counted[(source, subject)] = {r.action for r in reply.rows if r.count}
        assert counted[(source, subject)] <= v.COUNTED[(source, subject)], (source, subject)

    # What the seed wrote, under the names of the values it wrote them with.
    def names(source: str, subject: int) -> set[str]:
        return counted[(source, subject)]

    assert names(v.ACCOUNTS, apb.STATS_SUBJECT_GROUPS) == {
        v.ACCOUNT_ACTIONS[a]
        for a in (apb.ACTION_TYPE_RESTRICT, apb.ACTION_TYPE_CLOSE_GROUP, apb.ACTION_TYPE_WARN)
    }
    assert names(v.SITES, spb.STATS_SUBJECT_SITE_ACTIONS) == set(v.SITE_ACTIONS.values()) - {
        v.SITE_ACTIONS[spb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED]
    }
    assert names(v.SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES) == set(
        v.COUNTED[(v.SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES)]
    )
    assert names(v.SITES, spb.STATS_SUBJECT_CONTENT) == {
        v.CONTENT_ACTIONS[(h, spb.MEASURE_DELETE)] for h in v.CONTENT_HANDLERS
    }
    assert names(v.SITES, spb.STATS_SUBJECT_NOTICE_BATCHES) == {v.BATCH_PUBLISHED}
    assert names(v.CASES, cpb.STATS_SUBJECT_CASES) == set(v.CASE_KINDS.values())
    assert names(v.CASES, cpb.STATS_SUBJECT_MEASURES) == {
        v.CASE_MEASURES[m]
        for m in (cpb.MEASURE_CRIMINAL_DETENTION, cpb.MEASURE_ARREST, cpb.MEASURE_SUMMONED)
    }
    assert names(v.CASES, cpb.STATS_SUBJECT_TYPICAL_CASES) == {v.TYPICAL_PUBLISHED}
    assert names(v.CASES, cpb.STATS_SUBJECT_ILLEGAL_GAINS) == {v.ILLEGAL_GAINS_FEN}
