"""A 100,000-record import against a real in-process server: exact counts, exact statistics,
and statistics restated exactly after retractions."""

from __future__ import annotations

import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from services.accounts.__main__ import SPEC
from services.common.importer import MAX_REJECTIONS
from tests.reliability.support import Model, Plan, assert_stats_match, key_of
from tests.support.servers import START_US, Tokens, channel_to

pytestmark = pytest.mark.slow

TOTAL = 100_000
BATCH = 1_000
ACCOUNTS = 20_000
RETRACT_ALL_OF = 40  # accounts whose every action is retracted (they drop out of the counts)
RETRACT_FIRST_OF = 250  # accounts whose first action only is retracted


async def test_import_100k_counts_stats_and_retractions(serve, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    server = await serve(SPEC)
    channel = await channel_to(server.port)
    client = AccountsClient(channel=channel, token="")
    cac, mps = tokens("cac"), tokens("mps")
    big = Plan("vol", "cac", TOTAL, BATCH, ACCOUNTS, START_US)
    small = Plan("mps", "mps", 3_000, BATCH, 700, START_US)  # a second department

    resp = await client.import_actions(big.stream(), metadata=cac, timeout=120)
    s = resp.summary
    assert big.invalid_total > 1_900  # the plan really has rejections (97th and 101st)
    assert (s.accepted, s.duplicates, s.rejected, s.batches) == (
        big.valid_total,
        0,
        big.invalid_total,
        TOTAL // BATCH,
    )
    # The first rejections are reported in stream order, each naming the bad field.
    assert len(s.rejections) == MAX_REJECTIONS
    bad = [i for i in range(TOTAL) if not big.is_valid(i)][:MAX_REJECTIONS]
    assert [r.index for r in s.rejections] == bad
    for r in s.rejections:
        assert r.request_id == f"vol-{r.index}"
        assert r.field == ("category" if (r.index + 1) % 97 == 0 else "region"), r

    small_resp = await client.import_actions(small.stream(), metadata=mps, timeout=60)
    assert (small_resp.summary.accepted, small_resp.summary.rejected) == (
        small.valid_total,
        small.invalid_total,
    )

    model = Model()
    model.add(big)
    model.add(small)
    await assert_stats_match(client, cac, model)

    # Retract: every action of some accounts, the first action of others.
    listed = (
        await client.list_accounts(
            pb.ListAccountsRequest(page_size=RETRACT_ALL_OF + RETRACT_FIRST_OF), metadata=cac
        )
    ).response
    assert len(listed.accounts) == RETRACT_ALL_OF + RETRACT_FIRST_OF
    retracted = 0
    for n, account in enumerate(listed.accounts):
        actions = await (
            await client.list_account_actions(parent=account.name, page_size=1000, metadata=cac)
        ).all()
        assert len(actions) == account.action_count > 0
        for action in actions if n < RETRACT_ALL_OF else actions[:1]:
            live = model.live[action.request_id]
            assert (action.account, key_of(action)) == (account.name, live[1])
            out = await client.retract_action(
                pb.RetractActionRequest(
                    request_id=f"retract-{action.name}", name=action.name, reason="mistaken"
                ),
                metadata=cac,
            )
            assert out.action.retracted
            model.retract(action.request_id)
            retracted += 1
        if n < RETRACT_ALL_OF:
            assert out.account.action_count == 0
    assert 300 <= retracted <= 1_000
    await assert_stats_match(client, cac, model)

    # The import is not double-counted by a full replay: every record is a duplicate now.
    replay = await client.import_actions(big.stream(), metadata=cac, timeout=120)
    assert (replay.summary.accepted, replay.summary.duplicates, replay.summary.rejected) == (
        0,
        big.valid_total,
        big.invalid_total,
    )
    await assert_stats_match(client, cac, model)
    await channel.close()
