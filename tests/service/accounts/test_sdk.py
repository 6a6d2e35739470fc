"""The SDK's streams against a real accounts server: a batched import, its records read back
page by page (counted against what was sent), the watch stream, and the per-call token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, PermissionDenied, account_path, parse_account_path
from services.common.server import RunningServer
from tests.service.accounts.helpers import Tokens, action


def token_of(md: list[tuple[str, str]]) -> str:
    return dict(md)["authorization"].removeprefix("Bearer ")


@pytest.fixture
async def accounts(server: RunningServer, tokens: Tokens) -> AsyncIterator[AccountsClient]:
    async with AccountsClient(f"127.0.0.1:{server.port}", token=token_of(tokens())) as client:
        yield client


async def test_batched_import_then_every_account_page_by_page(accounts: AccountsClient) -> None:
    sent = [action(f"sdk-{i}", uid=f"u{i % 23}") for i in range(57)]
    batches: list[int] = []
    reply = await accounts.import_batches(
        accounts.stub.ImportActions,
        sent,
        lambda chunk: pb.ImportActionsRequest(actions=chunk),
        batch_size=10,
        on_batch=batches.append,
    )
    assert batches == [10, 10, 10, 10, 10, 7]
    assert (reply.summary.accepted, reply.summary.duplicates) == (57, 0)
    # The same records again, as messages batched by the caller: all duplicates.
    again = await accounts.import_actions([pb.ImportActionsRequest(actions=sent)])
    assert (again.summary.accepted, again.summary.duplicates) == (0, 57)
    listed = [a async for a in await accounts.list_accounts(page_size=5)]
    assert sorted(a.platform_uid for a in listed) == sorted({m.account.platform_uid for m in sent})
    one = listed[0]
    assert account_path(parse_account_path(one.name)["account"]) == one.name
    actions = await (await accounts.list_account_actions(parent=one.name, page_size=2)).all()
    assert len(actions) == sum(m.account.platform_uid == one.platform_uid for m in sent)


async def test_watch_streams_changes_and_a_call_may_bring_its_own_token(
    accounts: AccountsClient, tokens: Tokens
) -> None:
    changes = accounts.watch_changes(after_seq=0)
    first = asyncio.ensure_future(anext(changes))
    await accounts.record_action(action=action("sdk-w", uid="w1"))
    event = (await asyncio.wait_for(first, 5)).event
    assert event.seq == 1 and event.department == "cac"
    await changes.aclose()
    # Another department's token for one call: its rights, not the client's.
    with pytest.raises(PermissionDenied):
        await accounts.record_action(
            action=action("sdk-x", uid="x1", department="cac"), metadata=tokens("mps")
        )
    listed = [a.platform_uid async for a in await accounts.list_accounts()]
    assert listed == ["w1"]
