"""netnet.common.v1.RevocationService on the gateway: a revocation recorded at every service,
and the gateway's own set learnt from theirs about once a second (it has no store)."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import structlog

from gateway.clients import SOURCES, Backends, Metadata, per_source
from gateway.servicer import forwarded
from netnet.common.v1 import revocation_pb2 as pb
from netnet.common.v1 import revocation_pb2_grpc as pb_grpc
from services.common import revocation
from services.common.auth import require_role
from services.common.errors import Unavailable
from services.common.server import Runtime

log = structlog.get_logger()


class GatewayRevocations(pb_grpc.RevocationServiceServicer):
    def __init__(self, runtime: Runtime, backends: Backends) -> None:
        self.rt, self.backends = runtime, backends
        self.stubs = {s: pb_grpc.RevocationServiceStub(backends.channels[s]) for s in SOURCES}
        # What each service listed last: one that does not answer keeps its last list.
        self.known: dict[str, list[pb.Revocation]] = {}
        self._token: tuple[tuple[int, int], str] | None = None  # (file stamp, token)

    @property
    def revocations(self) -> Any:
        assert self.rt.verifier is not None
        return self.rt.verifier.revocations

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeTokenResponse:
        require_role("admin")
        now = revocation.wall_us()
        token_id, operator, before = revocation.checked(request, now)
        # Every service gets the same cut-off: the gateway's now, unless the caller gave one.
        asked = pb.RevokeTokenRequest(token_id=token_id, operator=operator)
        if operator:
            asked.issued_before.FromMicroseconds(before)
        metadata = forwarded(context)
        budget = self.rt.settings.source_timeout_seconds
        results, health = await per_source(
            budget, {s: partial(self._revoke, s, asked, metadata) for s in SOURCES}
        )
        # Refused here at once, whatever the services said: the caller asked for it.
        self.revocations.add(token_id, operator, before)
        failed = [h for h in health.values() if h.error]
        if failed:
            raise Unavailable(
                "not recorded by "
                + ", ".join(f"{h.source} ({h.error})" for h in failed)
                + "; recorded by "
                + (", ".join(s for s in SOURCES if s in results) or "none")
                + ": repeat the request (it is safe to)",
                reason="REVOCATION_INCOMPLETE",
            )
        return results[SOURCES[0]]  # type: ignore[no-any-return]

    async def _revoke(
        self, source: str, request: pb.RevokeTokenRequest, metadata: Metadata, seconds: float
    ) -> pb.RevokeTokenResponse:
        stub = self.stubs[source]
        return await stub.RevokeToken(request, metadata=metadata, timeout=seconds)  # type: ignore[no-any-return]

    async def _list(
        self, source: str, request: pb.ListRevocationsRequest, metadata: Metadata, seconds: float
    ) -> pb.ListRevocationsResponse:
        stub = self.stubs[source]
        return await stub.ListRevocations(request, metadata=metadata, timeout=seconds)  # type: ignore[no-any-return]

    async def ListRevocations(
        self, request: pb.ListRevocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRevocationsResponse:
        require_role("admin", "auditor", "service")
        return pb.ListRevocationsResponse(revocations=self._merged())

    def _merged(self) -> list[pb.Revocation]:
        seen: dict[tuple[str, str], pb.Revocation] = {}
        for found in self.known.values():
            for r in found:
                key = (r.token_id, r.operator)
                held = seen.get(key)
                if held is None or (
                    r.issued_before.ToMicroseconds() > held.issued_before.ToMicroseconds()
                ):
                    seen[key] = r
        return list(seen.values())

    def token(self) -> str:
        """The gateway's service token, read again when its file changes."""
        path: Path = self.rt.settings.gateway_token_file
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_ino)
        if self._token is None or self._token[0] != stamp:
            self._token = (stamp, path.read_text().strip())
        return self._token[1]

    async def refresh(self) -> None:
        """Each service's list (one that fails keeps its last), merged into the set the
        gateway checks calls against. A revocation the gateway itself took is kept until
        the services list it."""
        metadata = (("authorization", f"Bearer {self.token()}"),)
        request = pb.ListRevocationsRequest()
        results, health = await per_source(
            self.rt.settings.source_timeout_seconds,
            {s: partial(self._list, s, request, metadata) for s in SOURCES},
        )
        for source, reply in results.items():
            self.known[source] = list(reply.revocations)
        held = self.revocations
        token_ids, cutoffs = held.token_ids, held.cutoffs
        revocation.apply(held, self._merged())
        for token_id in token_ids - held.token_ids:
            held.add(token_id=token_id)
        for operator, before in cutoffs.items():
            held.add(operator=operator, issued_before_us=before)
        if len(results) < len(SOURCES):
            raise RuntimeError(
                "; ".join(f"{h.source}: {h.error}" for h in health.values() if h.error)
            )

    async def refresh_forever(self) -> None:
        failing = ""
        while True:
            try:
                await self.refresh()
                if failing:
                    log.info("revocations read again from every service")
                failing = ""
            except Exception as e:  # a service away, no token yet: the next round tries again
                problem = str(e) if not isinstance(e, OSError) else f"gateway token: {e.strerror}"
                if problem != failing:
                    log.warning("revocations not read from every service", error=problem)
                failing = problem
            await asyncio.sleep(self.rt.settings.revocation_refresh_seconds)


def register(server: grpc.aio.Server, runtime: Runtime, backends: Backends) -> list[str]:
    servicer = GatewayRevocations(runtime, backends)
    pb_grpc.add_RevocationServiceServicer_to_server(servicer, server)
    runtime.loops.append(servicer.refresh_forever)
    return [pb.DESCRIPTOR.services_by_name["RevocationService"].full_name]
