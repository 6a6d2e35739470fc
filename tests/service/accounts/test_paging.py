"""Keyset paging stays stable while records are being inserted."""

from __future__ import annotations

import asyncio
import itertools

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from tests.service.accounts.helpers import action, record, stream
from tests.support.rpc import Metadata
from tests.support.servers import Tokens


async def _page_through_while_writing(
    client: AccountsClient, md: Metadata, writers: dict[str, Metadata], **filters: object
) -> tuple[list[str], int]:
    """Pages with size 7; each page request runs together with new recordings."""
    counter = itertools.count()

    async def write_some() -> None:
        for dept, wmd in writers.items():
            n = next(counter)
            await record(client, wmd, action(f"new{n}", f"new{n}", department=dept))

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        pager, *_ = await asyncio.gather(
            client.list_accounts(
                pb.ListAccountsRequest(page_size=7, page_token=token, **filters),  # type: ignore[arg-type]
                metadata=md,
            ),
            write_some(),
            write_some(),
        )
        page = pager.response
        pages += 1
        assert len(page.accounts) <= 7
        seen += [a.name for a in page.accounts]
        token = page.next_page_token
        if not token:
            return seen, pages
        assert pages < 500, "paging does not end"


async def test_list_accounts_paging_under_inserts(client: AccountsClient, tokens: Tokens) -> None:
    cac, mps = tokens("cac"), tokens("mps")
    initial = [action(f"i{i}", f"i{i}", department="cac") for i in range(60)]
    await client.import_actions(stream([initial[:30], initial[30:]]), metadata=cac)
    await client.import_actions(
        stream([[action(f"m{i}", f"m{i}", department="mps") for i in range(20)]]), metadata=mps
    )
    start = [
        a.name
        for a in (
            (
                await client.list_accounts(pb.ListAccountsRequest(page_size=1000), metadata=cac)
            ).response
        ).accounts
    ]
    assert len(start) == 80

    seen, pages = await _page_through_while_writing(client, cac, {"cac": cac, "mps": mps})
    assert pages > 80 // 7
    assert len(seen) == len(set(seen)), "an account was listed twice"
    assert set(start) <= set(seen), "an account that existed at the start was skipped"
    ids = [int(n.split("/")[1]) for n in seen]
    assert ids == sorted(ids)
    assert len(seen) > len(start)  # accounts created meanwhile show up at the end


async def test_filtered_paging_under_inserts(client: AccountsClient, tokens: Tokens) -> None:
    cac, mps = tokens("cac"), tokens("mps")
    batch = [
        action(f"i{i}", f"i{i}", department="cac", category="fraud" if i % 2 else "obscene")
        for i in range(50)
    ]
    await client.import_actions(stream([batch]), metadata=cac)
    start = [
        a.name
        for a in (
            (
                await client.list_accounts(
                    pb.ListAccountsRequest(page_size=1000, category="fraud"), metadata=cac
                )
            ).response
        ).accounts
    ]
    assert len(start) == 25
    seen, _ = await _page_through_while_writing(
        client, cac, {"cac": cac, "mps": mps}, category="fraud"
    )
    assert seen == start  # new accounts are "obscene": none join this listing
