"""An import sent faster than the store writes is slowed by flow control, never buffered: the
server's memory stays flat however far the client is ahead.

An accounts server process on its SQLite file; a second connection (in this process) holds
the file's write lock for `hold` seconds of every `hold + gap`, as a competing writer or a
stalled disk would, so each of the server's batch transactions waits for the lock (nothing in
the server is changed or told); a client streams prebuilt batches as fast as its channel
takes them; the server's resident memory (/proc/PID/status VmRSS) is sampled every 0.2 s.

python -m bench.flow [--records 300000] [--batch 1000] [--hold 0.15] [--gap 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench import data, servers
from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient

SAMPLE_SECONDS = 0.2
DEPARTMENT = "cac"


@dataclass(frozen=True)
class Flow:
    records: int  # streamed (after the one batch that warms the server up)
    stream_bytes: int  # the stream's messages, serialised
    seconds: float
    rss: list[tuple[float, int]]  # (seconds since the stream began, server RSS bytes)
    accepted: int
    lock_waits: int  # times the lock holder took the write lock during the stream
    sent: float  # seconds into the stream when the channel took its last message

    @property
    def baseline(self) -> int:
        """RSS as the stream began (the server warmed up, nothing sent yet)."""
        return self.rss[0][1]

    @property
    def peak(self) -> int:
        return max(r for _, r in self.rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def late_growth(self) -> int:
        """How much the peak of the stream's second half exceeds the first half's: a server
        that buffered what it cannot write yet would keep growing; a bounded one is flat."""
        half = self.rss[len(self.rss) // 2][0]
        first = max(r for t, r in self.rss if t <= half)
        second = max(r for t, r in self.rss if t > half)
        return second - first

    def report(self) -> str:
        mb = 1 << 20
        return (
            f"{self.records:,} records ({self.stream_bytes / mb:.0f} MB on the wire) in "
            f"{self.seconds:.1f} s ({self.records / self.seconds:,.0f} records/s; the write lock "
            f"held {self.lock_waits} times by the other connection); server RSS at start "
            f"{self.baseline / mb:.1f} MB, peak {self.peak / mb:.1f} MB (+{self.growth / mb:.1f} "
            f"MB), second half over first {self.late_growth() / mb:+.1f} MB; "
            f"{len(self.rss)} samples; the client's last message went at "
            f"{self.sent:.1f} s of {self.seconds:.1f} s"
        )


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class LockHolder(threading.Thread):
    """Holds a SQLite file's write lock for `hold` seconds of every `hold + gap`."""

    def __init__(self, path: Path, hold: float, gap: float) -> None:
        super().__init__(daemon=True)
        self.path, self.hold, self.gap = path, hold, gap
        self.stop = threading.Event()
        self.taken = 0

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        try:
            while not self.stop.is_set():
                conn.execute("BEGIN IMMEDIATE")  # waits for the server's transaction
                self.taken += 1
                self.stop.wait(self.hold)
                conn.execute("COMMIT")
                self.stop.wait(self.gap)
        finally:
            conn.close()


# The longest legal basis a record may carry (512 characters), in Chinese as written: fattens
# each record (~1.5 kB more on the wire) so that a short run streams many megabytes.
LONG_BASIS = ("《中华人民共和国网络安全法》第四十七条、《网络信息内容生态治理规定》" * 20)[:512]


async def measure(
    workdir: Path,
    records: int,
    batch: int = 1000,
    hold: float = 0.15,
    gap: float = 0.05,
    long_basis: bool = False,
) -> Flow:
    """Stream `records` (after one warm-up batch) as fast as the channel takes them into a
    server whose store is slowed (hold, gap: see LockHolder); long_basis: fat records."""
    owner, cases_addr = await servers.campaign_owner(workdir)
    server = servers.service_process(workdir, "accounts", cases_addr)
    holder: LockHolder | None = None
    try:
        port = await server.start()
        assert server.proc is not None
        pid = server.proc.pid
        dataset = data.dataset(records + batch, time.time_ns() // 1000, prefix="flow")
        for m in dataset.records:
            m.department = DEPARTMENT  # one stream, one writer's department
            if long_basis:
                m.legal_basis = LONG_BASIS
        requests = data.batches(dataset.records, batch)
        stream_bytes = sum(r.ByteSize() for r in requests[1:])
        md = servers.credentials(workdir, "accounts", DEPARTMENT)
        async with AccountsClient(f"127.0.0.1:{port}", token="") as client:
            # Warm up (the first batch's statements, the campaigns learnt), then slow the store.
            await client.import_actions(iter(requests[:1]), metadata=md)
            holder = LockHolder(workdir / "accounts" / "accounts.db", hold, gap)
            holder.start()
            samples: list[tuple[float, int]] = []
            started = time.perf_counter()

            async def sample() -> None:
                while True:
                    samples.append((time.perf_counter() - started, rss_of(pid)))
                    await asyncio.sleep(SAMPLE_SECONDS)

            sent = 0.0

            async def full_speed() -> AsyncIterator[pb.ImportActionsRequest]:
                nonlocal sent
                for r in requests[1:]:
                    yield r
                sent = time.perf_counter() - started  # the channel has taken the last one

            sampler = asyncio.create_task(sample())
            try:
                reply = await client.import_actions(full_speed(), metadata=md, timeout=3600)
            finally:
                sampler.cancel()
            seconds = time.perf_counter() - started
            samples.append((seconds, rss_of(pid)))
            taken = holder.taken
    finally:
        if holder is not None:
            holder.stop.set()
            holder.join(10)
        server.stop()
        owner.stop()
    return Flow(
        records=records,
        stream_bytes=stream_bytes,
        seconds=seconds,
        rss=samples,
        accepted=reply.summary.accepted,
        lock_waits=taken,
        sent=sent,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=0.15, help="seconds the lock is held")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds it is let go")
    parser.add_argument("--samples", action="store_true", help="print every RSS sample")
    parser.add_argument(
        "--long-basis", action="store_true", help="fat records (a 512-character legal basis)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netnet-flow-") as workdir:
        flow = asyncio.run(
            measure(Path(workdir), args.records, args.batch, args.hold, args.gap, args.long_basis)
        )
    if args.samples:
        for t, rss in flow.rss:
            print(f"{t:7.1f} s  {rss / (1 << 20):7.1f} MB")
    print(flow.report())


if __name__ == "__main__":
    main()
