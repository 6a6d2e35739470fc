"""The set-based write against a model written here: random streams of actions (restores,
suspensions, out-of-order times, several actions an account in one batch, groups), imported
in random batches or recorded one call at a time, leave every account, every outcome and
the distinct counts as the model (one action at a time, in the stream's order) says."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, FailedPrecondition, InvalidArgument
from netnet.common.v1 import common_pb2
from tests.service.accounts.helpers import action, record, stream
from tests.support.rpc import DAY_US
from tests.support.servers import START_US, Tokens

SEVERITY = {
    pb.ACCOUNT_STATUS_ACTIVE: 0,
    pb.ACCOUNT_STATUS_RESTORED: 0,
    pb.ACCOUNT_STATUS_WARNED: 1,
    pb.ACCOUNT_STATUS_RESTRICTED: 2,
    pb.ACCOUNT_STATUS_SUSPENDED: 3,
    pb.ACCOUNT_STATUS_BANNED: 4,
    pb.ACCOUNT_STATUS_CLOSED: 5,
}
RESULT = {
    pb.ACTION_TYPE_WARN: pb.ACCOUNT_STATUS_WARNED,
    pb.ACTION_TYPE_RESTRICT: pb.ACCOUNT_STATUS_RESTRICTED,
    pb.ACTION_TYPE_SUSPEND: pb.ACCOUNT_STATUS_SUSPENDED,
    pb.ACTION_TYPE_BAN: pb.ACCOUNT_STATUS_BANNED,
    pb.ACTION_TYPE_CLOSE_GROUP: pb.ACCOUNT_STATUS_CLOSED,
}


@dataclass
class Model:
    """An account as the model keeps it: its accepted actions (time, order, action, until)."""

    kind: int
    # (time, place in the stream, action, suspended until, category)
    actions: list[tuple[int, int, int, int | None, str]] = field(default_factory=list)
    handle: str = ""

    def replay(
        self, extra: tuple[int, int, int, int | None, str] | None = None
    ) -> tuple[int, int | None] | None:
        """(status, suspended until) after the actions in time order; None when a restore
        finds nothing to lift."""
        status, until = pb.ACCOUNT_STATUS_ACTIVE, None
        for _, _, act, end, _ in sorted([*self.actions, *([extra] if extra else [])]):
            if act == pb.ACTION_TYPE_RESTORE:
                if SEVERITY[status] < 2:
                    return None
                status = pb.ACCOUNT_STATUS_RESTORED
                continue
            result = RESULT[act]
            if SEVERITY[result] >= SEVERITY[status]:
                status = result
            if act == pb.ACTION_TYPE_SUSPEND and status == pb.ACCOUNT_STATUS_SUSPENDED:
                until = end
        return status, until if status == pb.ACCOUNT_STATUS_SUSPENDED else None


def _stream(seed: int, n: int, uids: int, prefix: str) -> list[pb.ActionInput]:
    rng = random.Random(seed)
    kinds = {
        f"{prefix}{i}": rng.choice([pb.ACCOUNT_KIND_USER, pb.ACCOUNT_KIND_GROUP])
        for i in range(uids)
    }
    records = []
    for i in range(n):
        uid = rng.choice(list(kinds))
        kind = kinds[uid] if rng.random() > 0.03 else pb.ACCOUNT_KIND_LIVE_STREAMER
        acts = [pb.ACTION_TYPE_WARN, pb.ACTION_TYPE_RESTRICT, pb.ACTION_TYPE_SUSPEND]
        acts += [pb.ACTION_TYPE_BAN, pb.ACTION_TYPE_RESTORE, pb.ACTION_TYPE_RESTORE]
        if kind == pb.ACCOUNT_KIND_GROUP:
            acts.append(pb.ACTION_TYPE_CLOSE_GROUP)
        act = rng.choice(acts)
        effective = START_US - rng.randrange(1, 20) * DAY_US + rng.randrange(3) * 1000
        records.append(
            action(
                f"{prefix}-{i}",
                uid,
                act,
                kind=kind,
                handle=rng.choice(["", "", f"h{i}"]),
                category=rng.choice(["obscene", "vulgar"]),
                effective_us=effective,
                suspend_until_us=effective + rng.randrange(1, 9) * DAY_US
                if act == pb.ACTION_TYPE_SUSPEND
                else None,
            )
        )
    if n > 10:  # a repeated request, and a request id reused for another record
        records.insert(n // 2, records[n // 3])
        reused = pb.ActionInput()
        reused.CopyFrom(records[n // 4])
        reused.category = "vulgar" if reused.category == "obscene" else "obscene"
        records.insert(n // 2 + 1, reused)
    return records


def _apply(models: dict[str, Model], records: list[pb.ActionInput]) -> list[str]:
    """Each record's outcome as the model has it: accepted, duplicate or rejected."""
    seen: dict[str, bytes] = {}
    outcomes = []
    for seq, r in enumerate(records):
        body = r.SerializeToString(deterministic=True)
        if r.request_id in seen:
            outcomes.append("duplicate" if seen[r.request_id] == body else "rejected")
            continue
        uid = r.account.platform_uid
        m = models.get(uid)
        if m is not None and m.kind != r.account.kind:
            outcomes.append("rejected")
            continue
        m = m or Model(r.account.kind)
        until = r.suspend_until.ToMicroseconds() if r.HasField("suspend_until") else None
        act = (r.effective_time.ToMicroseconds(), seq, r.action, until, r.category)
        if m.replay(act) is None:
            outcomes.append("rejected")
            continue
        m.actions.append(act)
        m.handle = r.account.handle or m.handle
        models[uid] = m
        seen[r.request_id] = body
        outcomes.append("accepted")
    return outcomes


async def _check_accounts(client: AccountsClient, md: object, models: dict[str, Model]) -> None:
    stored = {
        a.platform_uid: a
        async for a in await client.list_accounts(page_size=500, metadata=md)  # type: ignore[arg-type]
    }
    assert set(stored) == set(models)
    for uid, m in models.items():
        a = stored[uid]
        status, until = m.replay()  # type: ignore[misc]
        times = sorted(t for t, *_ in m.actions)
        got = (
            a.status,
            a.suspended_until.ToMicroseconds() if a.HasField("suspended_until") else None,
            a.action_count,
            a.first_action_time.ToMicroseconds(),
            a.last_action_time.ToMicroseconds(),
            a.handle,
            a.kind,
        )
        assert got == (status, until, len(m.actions), times[0], times[-1], m.handle, m.kind), uid


_DIMS = {"action": common_pb2.DIMENSION_ACTION, "category": common_pb2.DIMENSION_CATEGORY}


async def _check_counts(client: AccountsClient, md: object, models: dict[str, Model]) -> None:
    """Actions and distinct accounts grouped by action and category, by each alone, and in
    all (the distinct counts of a subject under several keys come from projections of its
    keys), brute-force from the model."""
    keyed = {
        uid: [
            (pb.ActionType.Name(a[2]).removeprefix("ACTION_TYPE_").lower(), a[4]) for a in m.actions
        ]
        for uid, m in models.items()
    }
    for group_by in (("action", "category"), ("action",), ("category",)):
        response = await client.get_stats(
            pb.GetStatsRequest(group_by=[_DIMS[d] for d in group_by]),
            metadata=md,  # type: ignore[arg-type]
        )
        got = {
            tuple(getattr(r, d) for d in group_by): (r.count, r.distinct_subjects)
            for r in response.rows
        }
        want: dict[tuple[str, ...], tuple[int, int]] = {}
        for keys in keyed.values():
            projected = [tuple(k[0 if d == "action" else 1] for d in group_by) for k in keys]
            for key in set(projected):
                n, d = want.get(key, (0, 0))
                want[key] = (n + projected.count(key), d + 1)
        assert got == want, group_by
        assert (response.total.count, response.total.distinct_subjects) == (
            sum(len(k) for k in keyed.values()),
            len(models),
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_imported_in_random_batches_as_one_at_a_time(
    client: AccountsClient, tokens: Tokens, seed: int
) -> None:
    md = tokens("cac")
    records = _stream(seed, 400, 25, f"m{seed}-")
    models: dict[str, Model] = {}
    expected = _apply(models, records)
    rng = random.Random(seed)
    batches, i = [], 0
    while i < len(records):
        size = rng.choice([1, 3, 17, 60, 200])
        batches.append(records[i : i + size])
        i += size
    summary = (await client.import_actions(stream(batches), metadata=md)).summary
    assert (summary.accepted, summary.duplicates, summary.rejected) == (
        expected.count("accepted"),
        expected.count("duplicate"),
        expected.count("rejected"),
    )
    rejected = [i for i, o in enumerate(expected) if o == "rejected"][:100]
    assert [r.index for r in summary.rejections] == rejected
    await _check_accounts(client, md, models)
    await _check_counts(client, md, models)


async def test_recorded_one_call_at_a_time_as_the_model(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    records = _stream(9, 120, 8, "c-")
    models: dict[str, Model] = {}
    expected = _apply(models, records)
    for r, outcome in zip(records, expected, strict=True):
        if outcome == "rejected":
            with pytest.raises((FailedPrecondition, InvalidArgument)):
                await record(client, md, r)
            continue
        answer = await record(client, md, r)
        assert answer.duplicate == (outcome == "duplicate")
    await _check_accounts(client, md, models)
    await _check_counts(client, md, models)
