"""Realistic, always-valid action records: the same records feed the service and the baseline.

Mostly distinct accounts (a tenth of the records act again on an account seen before), a few
platforms, departments, categories and campaigns, effective times spread over the last month.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.cases.v1 import cases_pb2
from netnet.sites.v1 import sites_pb2 as sites_pb
from services.accounts.domain import Kind
from services.accounts.servicer import action_input
from services.common.hashing import hash64

PLATFORMS = ("weibo", "douyin", "kuaishou", "qq", "bilibili")
DEPARTMENTS = ("cac", "mps", "mct")
CATEGORIES = ("obscene", "vulgar", "illegal_publication", "copyright", "fraud")
CAMPAIGNS = ("qinglang-2021", "jingwang-2021", "")
BENCH_CAMPAIGNS = ("qinglang-2021", "jingwang-2021", "bench")  # made by bench.servers
BENCH_SPECIAL_ACTIONS = ("summer-sweep",)
REGIONS = ("110000", "310000", "440300", "330100", "")
REPEAT_SHARE = 0.1  # records acting again on an account seen earlier
DAY_US = 86_400 * 1_000_000
SUSPEND_US = 7 * DAY_US


@dataclass
class Dataset:
    """Records in order, cut into per-department runs (one token may write only its own)."""

    records: list[pb.ActionInput]
    # department -> its records, in order
    by_department: dict[str, list[pb.ActionInput]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


class Generator:
    """Makes records on demand; request ids and account uids never repeat within a run."""

    def __init__(self, now_us: int, seed: int = 7, prefix: str = "bench") -> None:
        self.rng = random.Random(seed)
        self.now_us = now_us
        self.prefix = prefix
        self.seq = 0
        self.accounts: list[tuple[str, str, int]] = []  # (platform, uid, kind) seen so far

    def _account(self) -> tuple[str, str, int]:
        rng = self.rng
        if self.accounts and rng.random() < REPEAT_SHARE:
            return rng.choice(self.accounts)
        kind = Kind.GROUP if rng.random() < 0.1 else rng.choice((Kind.USER, Kind.LIVE_STREAMER))
        account = (rng.choice(PLATFORMS), f"{self.prefix}-u{len(self.accounts)}", int(kind))
        self.accounts.append(account)
        return account

    def record(self, department: str) -> pb.ActionInput:
        rng = self.rng
        self.seq += 1
        platform, uid, kind = self._account()
        if kind == Kind.GROUP and rng.random() < 0.3:
            action = pb.ACTION_TYPE_CLOSE_GROUP
        else:
            action = rng.choice(
                (pb.ACTION_TYPE_WARN, pb.ACTION_TYPE_RESTRICT, pb.ACTION_TYPE_SUSPEND)
                + (pb.ACTION_TYPE_BAN,) * 2
            )
        effective = self.now_us - rng.randrange(60_000_000, 30 * DAY_US)
        campaign = rng.choice(CAMPAIGNS)
        m = pb.ActionInput(
            request_id=f"{self.prefix}-{self.seq}",
            account=pb.AccountRef(
                platform=platform,
                platform_uid=uid,
                kind=kind,  # type: ignore[arg-type]
                handle=f"handle{uid}",
            ),
            action=action,
            category=rng.choice(CATEGORIES),
            legal_basis="Cybersecurity Law art. 47; Provisions on Ecological Governance",
            department=department,
            region=rng.choice(REGIONS),
            campaign_id=campaign,
            special_action="summer-sweep" if campaign and rng.random() < 0.2 else "",
            effective_time=_ts(effective),
        )
        if action == pb.ACTION_TYPE_SUSPEND:
            m.suspend_until.CopyFrom(_ts(effective + SUSPEND_US))
        return m


def dataset(n: int, now_us: int, seed: int = 7, prefix: str = "bench") -> Dataset:
    """n records, the departments in contiguous runs (as separate imports would send them)."""
    gen = Generator(now_us, seed, prefix)
    data = Dataset([])
    for i in range(n):
        department = DEPARTMENTS[i * len(DEPARTMENTS) // n]
        m = gen.record(department)
        data.records.append(m)
        data.by_department.setdefault(department, []).append(m)
    return data


def batches(records: list[pb.ActionInput], size: int) -> list[pb.ImportActionsRequest]:
    return [
        pb.ImportActionsRequest(actions=records[i : i + size]) for i in range(0, len(records), size)
    ]


AccountRow = tuple[object, ...]
ActionRow = tuple[object, ...]


def baseline_rows(
    records: list[pb.ActionInput], size: int, actor: str, now_us: int
) -> list[tuple[list[AccountRow], list[ActionRow]]]:
    """Rows of accounts (first sight only) and account_actions per transaction of `size`
    records, with ids and hash keys precomputed: what the service writes, minus the rules."""
    out: list[tuple[list[AccountRow], list[ActionRow]]] = []
    account_ids: dict[int, int] = {}
    action_id = 0
    for start in range(0, len(records), size):
        accounts: list[AccountRow] = []
        actions: list[ActionRow] = []
        for m in records[start : start + size]:
            a = action_input(m)
            ident = a.ident_key()
            account_id = account_ids.get(ident)
            if account_id is None:
                account_id = account_ids[ident] = len(account_ids) + 1
                effective = a.effective_us or now_us
                accounts.append(
                    (
                        ident,
                        account_id,
                        a.platform,
                        a.platform_uid,
                        a.kind,
                        a.handle,
                        4,  # status: banned (any value does for the limit)
                        a.suspend_until_us,
                        effective,
                        effective,
                        1,
                        1,
                    )
                )
            action_id += 1
            actions.append(
                (
                    hash64(a.request_id),
                    a.body_hash(),
                    action_id,
                    account_id,
                    a.request_id,
                    a.action,
                    a.category,
                    a.legal_basis,
                    a.department,
                    a.region,
                    a.campaign_id,
                    a.special_action,
                    a.case,
                    actor,
                    a.effective_us,
                    a.suspend_until_us,
                    now_us,
                    None,
                    "",
                    "",
                )
            )
        out.append((accounts, actions))
    return out


def record_requests(gen: Generator, department: str, n: int) -> list[pb.RecordActionRequest]:
    return [pb.RecordActionRequest(action=gen.record(department)) for _ in range(n)]


class Numbered:
    """Requests made on demand by make(number): the numbers, and so the request ids, never
    repeat within a run."""

    def __init__(self, make: Callable[[int], Message]) -> None:
        self.make = make
        self.seq = 0

    def next(self, n: int) -> list[Message]:
        self.seq += n
        return [self.make(i) for i in range(self.seq - n + 1, self.seq + 1)]


def site_ban(department: str, i: int) -> sites_pb.RecordSiteActionRequest:
    """RecordSiteAction: a website never seen before is banned."""
    return sites_pb.RecordSiteActionRequest(
        action=sites_pb.SiteActionInput(
            request_id=f"site-{i}",
            site=sites_pb.SiteRef(
                kind=sites_pb.SITE_KIND_WEBSITE, identifier=f"site-{i}.example.cn"
            ),
            action=sites_pb.SITE_ACTION_TYPE_BAN,
            category="user_rights",
            department=department,
        )
    )


def public_report(department: str, i: int) -> cases_pb2.RecordClueRequest:
    """RecordClue: a new public report."""
    return cases_pb2.RecordClueRequest(
        request_id=f"clue-{i}",
        clue=cases_pb2.Clue(
            source=cases_pb2.CLUE_SOURCE_PUBLIC_REPORT,
            summary=f"A group posts links to porn sites (report {i})",
            holder_department=department,
            category="obscene",
        ),
    )
