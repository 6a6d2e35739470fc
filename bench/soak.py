"""The soak (`make soak`): the four processes under imports, writes, status reads, bulletins and
watches from several departments at once, while one process at a time is restarted (SIGTERM
and SIGKILL by turns). At the end what was acknowledged is held against what the services
store, count, audit and stream. Each second the processes' RSS, open descriptors and threads
and the calls' latency go into a CSV; a plot and a summary are written beside it."""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc
import psutil
from google.protobuf.timestamp_pb2 import Timestamp

from deploy.keys import write_token
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as mpb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.cli.certs import write_dev_certs
from netnet.client import AccountsClient, CasesClient, GatewayClient, NetNetError, SitesClient
from netnet.client.channel import open_channel
from netnet.client.tls import PLAINTEXT, ClientTLS
from netnet.gateway.v1 import gateway_pb2 as gpb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.auth import issue_token
from tests.reliability.support import ServiceProcess
from tests.support.servers import bearer

T = TypeVar("T")
ORDER = ("accounts", "sites", "cases", "gateway")  # restarted in this order, round after round
DEPARTMENTS = ("cac", "miit", "mps")
CAMPAIGN = "soak"
# What a client may try again: the server went away, was slow, or asked it to wait.
TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
}
# A stream's next send on a socket the server's death closed fails INTERNAL in the client
# library (see tests/reliability/test_crash.py): a stream resent with its request ids is safe.
STREAM_TRANSIENT = TRANSIENT | {grpc.StatusCode.INTERNAL}
GIVE_UP = 120.0  # seconds a write is tried before it counts as never acknowledged
CALL_TIMEOUT = 5.0
BATCHES, BATCH = 5, 100  # one import stream, every IMPORT_PAUSE seconds per department
IMPORT_PAUSE = 5.0
ACCOUNT_POOL, GROUP_POOL, IMPORT_POOL = 40, 10, 200
# The limits are the caller's to choose (NETNET_LIMITS); the stores are the stack's own.
PASS_ENV = ("NETNET_LIMITS",)
Md = list[tuple[str, str]]


@dataclass
class Ledger:
    """What the services acknowledged, by request id (cases by number)."""

    accounts: dict[str, tuple[str, str, bool, int]] = field(default_factory=dict)
    sites: dict[str, tuple[str, int]] = field(default_factory=dict)  # rid -> (dept, action)
    content: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # (dept, sha, handler)
    cases: dict[str, tuple[str, int]] = field(default_factory=dict)  # number -> (dept, kind)

    def figures(self, dept: str = "") -> dict[str, int]:
        """Brute force: the status figures of a department ("": all of them)."""
        accounts = [(u, g, a) for d, u, g, a in self.accounts.values() if dept in ("", d)]
        sites = [a for d, a in self.sites.values() if dept in ("", d)]
        content = [h for d, _, h in self.content.values() if dept in ("", d)]
        cases = [k for d, k in self.cases.values() if dept in ("", d)]
        return {
            "accounts_handled": len({u for u, g, _ in accounts if not g}),
            "groups_closed": len({u for u, _, a in accounts if a == apb.ACTION_TYPE_CLOSE_GROUP}),
            "groups_handled": len({u for u, g, _ in accounts if g}),
            "sites_banned": sites.count(spb.SITE_ACTION_TYPE_BAN),
            "sites_closed": sites.count(spb.SITE_ACTION_TYPE_CLOSE),
            "sites_banned_or_closed": len(sites),  # one action per site
            "content_direct": content.count(spb.HANDLER_DIRECT),
            "content_platform": content.count(spb.HANDLER_PLATFORM),
            "cases_administrative": cases.count(cpb.CASE_KIND_ADMINISTRATIVE),
            "cases_criminal": cases.count(cpb.CASE_KIND_CRIMINAL),
        }


@dataclass
class Watcher:
    """A WatchChanges follower that resumes after its last seq whenever its stream breaks."""

    service: str
    seqs: list[int] = field(default_factory=list)
    resumed: int = 0  # streams that broke and delivered again after the last seq seen
    until: int = 0  # the feed's last seq, once the load has stopped
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def saw(self, seq: int) -> None:
        self.seqs.append(seq)
        if self.until and seq >= self.until:
            self.reached.set()


@dataclass
class Result:
    transport: str
    seconds: float
    failures: list[str]
    restarts: list[tuple[float, str, str, int]]  # at, service, signal, exit code
    errors: Counter[str]
    acknowledged: dict[str, int]
    watchers: list[Watcher]
    status_updates: int
    out: Path


class Stack:
    """The four processes as tests/reliability starts them, on one data directory, with
    fixed ports (a restart comes back on the same one); over mutual TLS on certificates of
    `netnet certs dev` unless told plaintext."""

    def __init__(self, root: Path, tls: bool = True) -> None:
        data = root / "data"
        passed = {k: v for k, v in os.environ.items() if k.startswith(PASS_ENV)}
        env = {"NETNET_KEY_FILE": str(root / "signing.key"), "NETNET_DRAIN_SECONDS": "2", **passed}
        self.tls = PLAINTEXT
        if tls:
            certs = write_dev_certs(root / "certs")
            env.update(
                NETNET_TLS_CERT=str(certs["server"]),
                NETNET_TLS_KEY=str(certs["server_key"]),
                NETNET_TLS_CLIENT_CA=str(certs["ca"]),
                # The gateway's channels to its sources present its own certificate.
                NETNET_TLS_CA=str(certs["ca"]),
                NETNET_TLS_CLIENT_CERT=str(certs["client-gateway"]),
                NETNET_TLS_CLIENT_KEY=str(certs["client-gateway_key"]),
            )
            self.tls = ClientTLS.of(
                str(certs["ca"]), str(certs["client-admin"]), str(certs["client-admin_key"])
            )
        cases = ServiceProcess(data, env, "cases")
        env["NETNET_CASES_ADDR"] = cases.target
        accounts = ServiceProcess(data, env, "accounts")
        sites = ServiceProcess(data, env, "sites")
        env.update(NETNET_ACCOUNTS_ADDR=accounts.target, NETNET_SITES_ADDR=sites.target)
        gateway = ServiceProcess(data, env, "gateway")
        self.processes = {"accounts": accounts, "sites": sites, "cases": cases, "gateway": gateway}
        self.key = cases.key  # the issuer's private key: the servers read its public key set
        # The gateway's service token, with which it reads the revocations (where make run
        # writes it: beside the key).
        service = issue_token(self.key, operator="gateway", department="office", roles=["service"])
        write_token(root / "gateway.token", service)

    async def serving(self, name: str) -> None:
        process = self.processes[name]
        channel = self.channel(name)
        try:
            await process.wait_serving(channel)
        finally:
            await channel.close()

    def channel(self, name: str) -> grpc.aio.Channel:
        """A channel to a process, on the stack's transport."""
        return open_channel(self.processes[name].target, tls=self.tls)

    async def start(self) -> None:
        self.processes["cases"].start()  # accounts and sites learn campaigns from it
        await self.serving("cases")
        for name in ("accounts", "sites", "gateway"):
            self.processes[name].start()
        await asyncio.gather(*(self.serving(n) for n in ("accounts", "sites", "gateway")))

    async def restart(self, name: str, sig: signal.Signals) -> int:
        """Stop a process by sig, start it again, wait until it serves; its exit code."""
        process = self.processes[name]
        process.signal(sig)
        code = await process.wait(30)
        process.start()
        await self.serving(name)
        return code

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.proc is not None and process.proc.poll() is None:
                process.signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await process.wait(15)
            except AssertionError:
                await process.kill()


def _ts(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Soak:
    def __init__(self, stack: Stack, seconds: float) -> None:
        self.stack, self.seconds = stack, seconds
        self.channels = {name: stack.channel(name) for name in ORDER}
        self.accounts = AccountsClient(
            channel=self.channels["accounts"], token="", timeout=CALL_TIMEOUT
        )
        self.sites = SitesClient(channel=self.channels["sites"], token="", timeout=CALL_TIMEOUT)
        self.cases = CasesClient(channel=self.channels["cases"], token="", timeout=CALL_TIMEOUT)
        self.gateway = GatewayClient(
            channel=self.channels["gateway"], token="", timeout=CALL_TIMEOUT
        )
        self.sources = {"accounts": self.accounts, "sites": self.sites, "cases": self.cases}
        self.ledger = Ledger()
        self.failures: list[str] = []
        self.errors: Counter[str] = Counter()
        self.latencies: dict[int, list[float]] = defaultdict(list)
        self.errors_at: Counter[int] = Counter()
        self.restarts: list[tuple[float, str, str, int]] = []
        self.watchers = [Watcher(s) for s in self.sources]
        self.status_updates = 0
        self.stopping = asyncio.Event()
        self.t0 = time.monotonic()
        self._tokens: dict[tuple[str, ...], Md] = {}

    def md(self, department: str, *roles: str) -> Md:
        """A token per department and roles; each department's operator is its own caller."""
        key = (department, *roles)
        if key not in self._tokens:
            self._tokens[key] = bearer(
                self.stack.key, department, *roles, operator=f"soak-{department}", ttl=86400
            )
        return self._tokens[key]

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _failed(self, e: NetNetError) -> None:
        self.errors[e.code.name] += 1
        self.errors_at[int(self.now())] += 1

    async def write(
        self,
        what: str,
        call: Callable[[], Awaitable[T]],
        transient: set[grpc.StatusCode] = TRANSIENT,
    ) -> T | None:
        """A write carrying request ids, tried again with the same ids until acknowledged."""
        started = time.monotonic()
        while True:
            try:
                return await self._timed(call)
            except NetNetError as e:
                self._failed(e)
                if e.code not in transient:
                    self.failures.append(f"{what} refused: {e}")
                    return None
                if time.monotonic() - started > GIVE_UP:
                    self.failures.append(f"{what} never acknowledged in {GIVE_UP:.0f}s: {e}")
                    return None
                await asyncio.sleep(0.2)

    async def read(self, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """A read: a transient failure is counted and the next round tries afresh."""
        try:
            return await self._timed(call)
        except NetNetError as e:
            self._failed(e)
            if e.code not in TRANSIENT:
                self.failures.append(f"{what} failed: {e}")
            return None

    async def _timed(self, call: Callable[[], Awaitable[T]]) -> T:
        began = time.monotonic()
        reply = await call()
        self.latencies[int(self.now())].append((time.monotonic() - began) * 1000)
        return reply

    async def pace(self, seconds: float) -> None:
        """Sleep between calls, cut short when the load stops."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass

    # --- the load ------------------------------------------------------------------------

    async def create_campaign(self) -> None:
        now = time.time()
        request = mpb.CreateCampaignRequest(
            request_id="soak-campaign",
            campaign=mpb.Campaign(
                id=CAMPAIGN,
                title="Soak",
                start_time=_ts(now - 86400),
                end_time=_ts(now + 86400),
                lead_department="office",
                participating_departments=list(DEPARTMENTS),
            ),
        )
        md = self.md("office", "admin")
        await self.write("CreateCampaign", lambda: self.cases.create_campaign(request, metadata=md))

    async def account_writes(self, dept: str) -> None:
        md, i = self.md(dept), 0
        while not self.stopping.is_set():
            i += 1
            group = i % 5 == 0
            uid = f"{dept}-g{i % GROUP_POOL}" if group else f"{dept}-u{i % ACCOUNT_POOL}"
            kind = apb.ACCOUNT_KIND_GROUP if group else apb.ACCOUNT_KIND_USER
            actions = (apb.ACTION_TYPE_WARN, apb.ACTION_TYPE_RESTRICT, apb.ACTION_TYPE_BAN)
            action = apb.ACTION_TYPE_CLOSE_GROUP if group else actions[i % 3]
            record = apb.ActionInput(
                request_id=f"account-{dept}-{i}",
                account=apb.AccountRef(platform="weibo", platform_uid=uid, kind=kind),
                action=action,
                category="vulgar",
                department=dept,
                campaign_id=CAMPAIGN,
            )
            request = apb.RecordActionRequest(action=record)
            if await self.write(
                "RecordAction", partial(self.accounts.record_action, request, metadata=md)
            ):
                self.ledger.accounts[record.request_id] = (dept, uid, group, action)
            await self.pace(0.2)

    async def account_imports(self, dept: str) -> None:
        md, n = self.md(dept), 0
        while not self.stopping.is_set():
            n += 1
            records = [
                apb.ActionInput(
                    request_id=f"import-{dept}-{n}-{j}",
                    account=apb.AccountRef(
                        platform="douyin",
                        platform_uid=f"{dept}-i{(n * 7 + j) % IMPORT_POOL}",
                        kind=apb.ACCOUNT_KIND_USER,
                    ),
                    action=(apb.ACTION_TYPE_WARN, apb.ACTION_TYPE_BAN)[j % 2],
                    category="obscene",
                    department=dept,
                    campaign_id=CAMPAIGN,
                )
                for j in range(BATCHES * BATCH)
            ]
            requests = [
                apb.ImportActionsRequest(actions=records[b : b + BATCH])
                for b in range(0, len(records), BATCH)
            ]
            reply = await self.write(
                "ImportActions",
                partial(self.accounts.import_actions, requests, metadata=md, timeout=60),
                STREAM_TRANSIENT,
            )
            if reply and self._whole("ImportActions", reply.summary, len(records)):
                for r in records:
                    uid = r.account.platform_uid
                    self.ledger.accounts[r.request_id] = (dept, uid, False, r.action)
            await self.pace(IMPORT_PAUSE)

    async def content_imports(self, dept: str) -> None:
        md, n = self.md(dept), 0
        handlers = (spb.HANDLER_DIRECT, spb.HANDLER_PLATFORM)
        while not self.stopping.is_set():
            n += 1
            sha = _sha(f"soak-{dept}-{n}")  # one per stream: looked up at the end
            records = [
                spb.DispositionInput(
                    request_id=f"content-{dept}-{n}-{j}",
                    site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier=f"{dept}.soak.cn"),
                    locator=f"https://{dept}.soak.cn/{n}/{j}",
                    content_sha256=sha,
                    category="vulgar",
                    measure=spb.MEASURE_DELETE,
                    handler=handlers[j % 2],
                    department=dept,
                    campaign_id=CAMPAIGN,
                )
                for j in range(BATCHES * BATCH)
            ]
            requests = [
                spb.ImportDispositionsRequest(dispositions=records[b : b + BATCH])
                for b in range(0, len(records), BATCH)
            ]
            reply = await self.write(
                "ImportDispositions",
                partial(self.sites.import_dispositions, requests, metadata=md, timeout=60),
                STREAM_TRANSIENT,
            )
            if reply and self._whole("ImportDispositions", reply.summary, len(records)):
                for r in records:
                    self.ledger.content[r.request_id] = (dept, sha, r.handler)
            await self.pace(IMPORT_PAUSE)

    def _whole(self, what: str, summary: Any, sent: int) -> bool:
        """Every record of a stream accepted now or before (a resent stream's duplicates)."""
        if summary.rejected or summary.accepted + summary.duplicates != sent:
            self.failures.append(f"{what}: {sent} sent, summary {summary}")
            return False
        return True

    async def site_writes(self, dept: str) -> None:
        md, i = self.md(dept), 0
        while not self.stopping.is_set():
            i += 1
            action = spb.SITE_ACTION_TYPE_BAN if i % 2 else spb.SITE_ACTION_TYPE_CLOSE
            request = spb.RecordSiteActionRequest(
                action=spb.SiteActionInput(
                    request_id=f"site-{dept}-{i}",
                    site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier=f"s{i}.{dept}.soak.cn"),
                    action=action,
                    category="obscene",
                    department=dept,
                    campaign_id=CAMPAIGN,
                )
            )
            if await self.write(
                "RecordSiteAction", partial(self.sites.record_site_action, request, metadata=md)
            ):
                self.ledger.sites[request.action.request_id] = (dept, action)
            await self.pace(0.5)

    async def case_writes(self, dept: str) -> None:
        md, i = self.md(dept), 0
        while not self.stopping.is_set():
            i += 1
            kind = cpb.CASE_KIND_CRIMINAL if i % 3 == 0 else cpb.CASE_KIND_ADMINISTRATIVE
            number = f"SOAK-{dept}-{i}"
            request = cpb.CreateCaseRequest(
                request_id=f"case-{dept}-{i}",
                case=cpb.Case(
                    number=number,
                    title=f"Soak case {i}",
                    kind=kind,
                    lead_department=dept,
                    lead_region="110000",
                    categories=["obscene"],
                    campaign_id=CAMPAIGN,
                ),
            )
            if await self.write(
                "CreateCase", partial(self.cases.create_case, request, metadata=md)
            ):
                self.ledger.cases[number] = (dept, kind)
            await self.pace(0.5)

    async def status_reads(self) -> None:
        readers = [self.md("office", "analyst"), *(self.md(d) for d in DEPARTMENTS)]
        i = 0
        while not self.stopping.is_set():
            md = readers[i % len(readers)]
            i += 1
            await self.read(
                "GetCampaignStatus",
                partial(self.gateway.get_campaign_status, campaign_id=CAMPAIGN, metadata=md),
            )
            await self.pace(0.5)

    async def bulletins(self) -> None:
        md = self.md("office", "analyst")
        while not self.stopping.is_set():
            await self.read(
                "GenerateBulletin",
                partial(self.gateway.generate_bulletin, campaign_id=CAMPAIGN, metadata=md),
            )
            await self.pace(2.0)

    async def watch(self, watcher: Watcher) -> None:
        """Follow a service's feed for good, resuming after the last seq seen."""
        md = self.md("office", "analyst")
        broke = False
        while True:
            after = watcher.seqs[-1] if watcher.seqs else 0
            stream = self.sources[watcher.service].watch_changes(after_seq=after, metadata=md)
            try:
                async with aclosing(stream):
                    async for reply in stream:
                        watcher.resumed += broke
                        broke = False
                        watcher.saw(reply.event.seq)
            except NetNetError as e:
                self._failed(e)
                if e.code not in TRANSIENT:
                    self.failures.append(f"{watcher.service} WatchChanges failed: {e}")
                    return
            broke = True
            await asyncio.sleep(0.2)

    async def watch_status(self) -> None:
        """Follow the campaign's status through the gateway, opening the stream again."""
        md = self.md("office", "analyst")
        query = gpb.GetCampaignStatusRequest(campaign_id=CAMPAIGN)
        while True:
            stream = self.gateway.watch_campaign_status(query=query, metadata=md)
            try:
                async with aclosing(stream):
                    async for _ in stream:
                        self.status_updates += 1
            except NetNetError as e:
                self._failed(e)
            await asyncio.sleep(0.2)

    async def restarter(self, interval: float) -> None:
        """One process at a time, every interval, SIGTERM and SIGKILL by turns (each process
        gets both over two rounds)."""
        n = 0
        while True:
            await asyncio.sleep(interval - (self.now() % interval))
            if self.now() > self.seconds - interval / 2:
                return
            name = ORDER[n % len(ORDER)]
            sig = (signal.SIGTERM, signal.SIGKILL)[(n + n // len(ORDER)) % 2]
            at = self.now()
            code = await self.stack.restart(name, sig)
            self.restarts.append((at, name, sig.name, code))
            if code != (0 if sig == signal.SIGTERM else -signal.SIGKILL):
                self.failures.append(f"{name} exited {code} on {sig.name}")
            n += 1

    # --- the checks ----------------------------------------------------------------------

    async def feed(self, service: str) -> list[int]:
        """The whole change feed of a service, read once the load has stopped (it ends when
        nothing more comes for 2 s)."""
        seqs: list[int] = []
        stream = self.sources[service].watch_changes(
            after_seq=0, metadata=self.md("office", "analyst")
        )
        async with aclosing(stream):
            while True:
                try:
                    reply = await asyncio.wait_for(anext(stream), 2)
                except TimeoutError:
                    return seqs
                seqs.append(reply.event.seq)

    async def stored(self) -> dict[str, Counter[str]]:
        """Request ids (cases: numbers) as the services list them, each as often as stored."""
        md = self.md("office", "analyst")
        accounts: Counter[str] = Counter()
        async for account in await self.accounts.list_accounts(
            campaign_id=CAMPAIGN, page_size=1000, metadata=md
        ):
            pager = await self.accounts.list_account_actions(
                parent=account.name, page_size=1000, metadata=md
            )
            accounts.update([a.request_id async for a in pager])
        sites: Counter[str] = Counter()
        async for site in await self.sites.list_sites(
            campaign_id=CAMPAIGN, page_size=1000, metadata=md
        ):
            pager = await self.sites.list_site_actions(
                parent=site.name, page_size=1000, metadata=md
            )
            sites.update([a.request_id async for a in pager])
        content: Counter[str] = Counter()
        for sha in sorted({sha for _, sha, _ in self.ledger.content.values()}):
            pager = await self.sites.lookup_content_hash(
                content_sha256=sha, page_size=1000, metadata=md
            )
            content.update([d.request_id async for d in pager])
        cases: Counter[str] = Counter()
        pager = await self.cases.list_cases(campaign_id=CAMPAIGN, page_size=1000, metadata=md)
        cases.update([c.number async for c in pager])
        return {"accounts": accounts, "sites": sites, "content": content, "cases": cases}

    async def check(self) -> None:
        stored = await self.stored()
        acknowledged: dict[str, dict[str, Any]] = {
            "accounts": self.ledger.accounts,
            "sites": self.ledger.sites,
            "content": self.ledger.content,
            "cases": self.ledger.cases,
        }
        for what, ledger in acknowledged.items():
            want, got = Counter(ledger.keys()), stored[what]
            missing, extra = want - got, got - want
            if missing or extra:
                self.failures.append(
                    f"{what}: {len(want)} acknowledged, {sum(got.values())} stored; missing "
                    f"{sorted(missing)[:5]}, stored unacknowledged or twice {sorted(extra)[:5]}"
                )
        status = (
            await self.gateway.get_campaign_status(
                campaign_id=CAMPAIGN, metadata=self.md("office", "analyst")
            )
        ).status
        if not status.complete:
            self.failures.append(f"status incomplete at the end: {list(status.sources)}")
        shown = {d.department: d.figures for d in status.departments}
        for dept in ("", *DEPARTMENTS):
            figures = status.total if dept == "" else shown.get(dept)
            for name, counted in self.ledger.figures(dept).items():
                shown_figure = getattr(figures, name) if figures is not None else None
                if shown_figure != counted:
                    self.failures.append(
                        f"{dept or 'total'} {name}: status {shown_figure}, ledger {counted}"
                    )
        auditor = self.md("office", "auditor")
        for client in self.sources.values():
            v = (await client.verify_audit_chain(metadata=auditor)).verification
            if not v.ok:
                self.failures.append(f"{client.service} audit chain: {v}")
        await asyncio.gather(*(self.check_watcher(w) for w in self.watchers))

    async def check_watcher(self, watcher: Watcher) -> None:
        """The watcher saw the whole feed, once each, in order, however often it resumed."""
        full = await self.feed(watcher.service)
        watcher.until = full[-1] if full else 0
        if watcher.seqs[-1:] != full[-1:]:
            with suppress(TimeoutError):
                await asyncio.wait_for(watcher.reached.wait(), 30)
        if watcher.seqs != full:
            dup = [s for s, n in Counter(watcher.seqs).items() if n > 1]
            gone = sorted(set(full) - set(watcher.seqs))
            self.failures.append(
                f"{watcher.service} watcher (resumed {watcher.resumed}x): saw "
                f"{len(watcher.seqs)} of {len(full)} events; missed {gone[:5]}, twice {dup[:5]}"
            )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


# --- the samples and the report ----------------------------------------------------------

COLUMNS = ("rss_mb", "fds", "threads")


class Sampler:
    """Once a second: each process's RSS, open descriptors and threads, and the p50/p99 of
    the client calls that ended in the second before."""

    def __init__(self, soak: Soak, path: Path) -> None:
        self.soak, self.path = soak, path
        self.rows: list[dict[str, float | str]] = []
        self.header = ["second"]
        for name in ORDER:
            self.header += [f"{name}_{c}" for c in COLUMNS]
        self.header += ["calls", "p50_ms", "p99_ms", "errors"]
        self._procs: dict[int, psutil.Process] = {}

    def _process(self, name: str) -> dict[str, float | str]:
        proc = self.soak.stack.processes[name].proc
        blank: dict[str, float | str] = {f"{name}_{c}": "" for c in COLUMNS}
        if proc is None or proc.poll() is not None:
            return blank  # between a stop and a start
        try:
            p = self._procs.setdefault(proc.pid, psutil.Process(proc.pid))
            with p.oneshot():
                values = (p.memory_info().rss / 2**20, p.num_fds(), p.num_threads())
        except psutil.Error:
            return blank
        return {f"{name}_{c}": round(v, 1) for c, v in zip(COLUMNS, values, strict=True)}

    async def run(self) -> None:
        with self.path.open("w", newline="") as f:
            out = csv.DictWriter(f, self.header)
            out.writeheader()
            second = 0
            while True:
                second += 1
                await asyncio.sleep(max(0.0, second - self.soak.now()))
                row: dict[str, float | str] = {"second": second}
                for name in ORDER:
                    row.update(self._process(name))
                calls = sorted(self.soak.latencies.pop(second - 1, []))
                row["calls"] = len(calls)
                row["p50_ms"] = _quantile(calls, 0.5)
                row["p99_ms"] = _quantile(calls, 0.99)
                row["errors"] = self.soak.errors_at.pop(second - 1, 0)
                out.writerow(row)
                f.flush()
                self.rows.append(row)


def _quantile(ordered: list[float], q: float) -> float | str:
    """The q-quantile of sorted values (nearest rank), blank for none."""
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2) if ordered else ""


def _series(rows: list[dict[str, float | str]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r[column] != ""]


def plot(
    rows: list[dict[str, float | str]], restarts: list[tuple[float, str, str, int]], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    seconds = [r["second"] for r in rows]
    for ax, column, label in zip(
        axes, COLUMNS, ("RSS (MB)", "open file descriptors", "threads"), strict=False
    ):
        for name in ORDER:
            values = [
                float(r[f"{name}_{column}"]) if r[f"{name}_{column}"] != "" else float("nan")
                for r in rows
            ]
            ax.plot(seconds, values, label=name, linewidth=1)
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    for q in ("p50_ms", "p99_ms"):
        values = [float(r[q]) if r[q] != "" else float("nan") for r in rows]
        axes[3].plot(seconds, values, label=q.replace("_ms", ""), linewidth=1)
    axes[3].set_yscale("log")
    axes[3].set_ylabel("client call latency (ms)")
    axes[3].set_xlabel("seconds")
    axes[3].legend(loc="upper left", fontsize=8)
    for at, name, sig, _ in restarts:
        for ax in axes:
            ax.axvline(at, color="grey", linestyle=":" if sig == "SIGTERM" else "--", linewidth=0.8)
        axes[0].annotate(
            f"{name} {sig[3:]}",
            (at, 1),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
        )
    fig.suptitle(
        "Net Net soak: processes and client latency per second "
        "(restarts dotted: SIGTERM, dashed: SIGKILL)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(result: Result, rows: list[dict[str, float | str]]) -> str:
    window = max(1, min(60, len(rows) // 6))  # the first and the last minute (or sixth)
    lines = [
        f"Net Net soak: {result.seconds:.0f} s over {result.transport}, "
        f"{len(result.restarts)} restarts, "
        f"{'PASSED' if not result.failures else 'FAILED'}",
        "",
        f"process   peak RSS MB  growth MB ({window} s first to last)  peak fds  peak threads",
    ]
    for name in ORDER:
        rss = _series(rows, f"{name}_rss_mb")
        growth = (
            sum(rss[-window:]) / len(rss[-window:]) - sum(rss[:window]) / len(rss[:window])
            if rss
            else 0.0
        )
        fds, threads = _series(rows, f"{name}_fds"), _series(rows, f"{name}_threads")
        lines.append(
            f"{name:<9} {max(rss, default=0):>11.1f}  {growth:>+33.1f}  "
            f"{max(fds, default=0):>8.0f}  {max(threads, default=0):>12.0f}"
        )
    p50, p99 = _series(rows, "p50_ms"), _series(rows, "p99_ms")
    calls = sum(int(r["calls"]) for r in rows)
    lines += [
        "",
        f"client calls: {calls} ({calls / max(1, len(rows)):.0f}/s); per second p50 median "
        f"{_median(p50):.1f} ms, p99 median {_median(p99):.1f} ms, "
        f"worst p99 {max(p99, default=0):.0f} ms",
        "errors by code (each failed attempt; writes were tried again): "
        + (", ".join(f"{k} {v}" for k, v in result.errors.most_common()) or "none"),
        "restarts: "
        + ", ".join(
            f"{at:.0f}s {name} {sig} (exit {code})" for at, name, sig, code in result.restarts
        ),
        "acknowledged: " + ", ".join(f"{k} {v}" for k, v in result.acknowledged.items()),
        "watchers: "
        + ", ".join(
            f"{w.service} {len(w.seqs)} events, resumed {w.resumed}x" for w in result.watchers
        )
        + f"; campaign status updates streamed {result.status_updates}",
        "",
        "checks: every acknowledged record stored once; status figures equal the ledger's count; "
        "audit chains verify; resumed watchers saw every event once",
    ]
    lines += [f"FAILED: {f}" for f in result.failures] or ["all checks passed"]
    return "\n".join(lines) + "\n"


def _median(values: list[float]) -> float:
    return float(_quantile(sorted(values), 0.5) or 0.0)


def _fresh(out: Path) -> None:
    shutil.rmtree(out / "stack", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


async def run(seconds: float, out: Path, tls: bool = True) -> Result:
    """The soak for `seconds` of load (over mutual TLS, or plaintext), its stack and report
    under `out`."""
    await asyncio.to_thread(_fresh, out)
    stack = Stack(out / "stack", tls)
    soak = Soak(stack, seconds)
    sampler = Sampler(soak, out / "samples.csv")
    background: list[asyncio.Task[None]] = []
    try:
        await stack.start()
        await soak.create_campaign()
        soak.t0 = time.monotonic()
        background = [asyncio.create_task(sampler.run())]
        background += [asyncio.create_task(soak.watch(w)) for w in soak.watchers]
        background.append(asyncio.create_task(soak.watch_status()))
        load = [soak.status_reads(), soak.bulletins()]
        for dept in DEPARTMENTS:
            load += [soak.account_writes(dept), soak.account_imports(dept)]
            load += [soak.content_imports(dept), soak.site_writes(dept), soak.case_writes(dept)]
        tasks = [asyncio.create_task(c) for c in load]
        restarts = asyncio.create_task(soak.restarter(min(60.0, seconds / 6)))
        await asyncio.sleep(seconds)
        await restarts  # a restart under way ends first: every process serves again
        soak.stopping.set()
        await asyncio.gather(*tasks)  # writes in flight retried until acknowledged
        elapsed = soak.now()
        background[0].cancel()  # the samples cover the load, not the checks
        await soak.check()
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await soak.close()
        await stack.stop()
    acknowledged = {
        "account actions": len(soak.ledger.accounts),
        "site actions": len(soak.ledger.sites),
        "content": len(soak.ledger.content),
        "cases": len(soak.ledger.cases),
    }
    result = Result(
        "mutual TLS" if tls else "plaintext",
        elapsed,
        soak.failures,
        soak.restarts,
        soak.errors,
        acknowledged,
        soak.watchers,
        soak.status_updates,
        out,
    )
    plot(sampler.rows, soak.restarts, out / "soak.png")
    (out / "summary.txt").write_text(summary(result, sampler.rows))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS") or 600)
    )
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("SOAK_OUT") or "artifacts/soak")
    )
    parser.add_argument(
        "--plaintext",
        action="store_true",
        default=os.environ.get("SOAK_TLS") == "0",
        help="without TLS (default: mutual TLS on certificates made for the run; SOAK_TLS=0)",
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.seconds, args.out, not args.plaintext))
    print((args.out / "summary.txt").read_text(), end="")
    print(f"\n{args.out / 'samples.csv'}, {args.out / 'soak.png'}, {args.out / 'summary.txt'}")
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
