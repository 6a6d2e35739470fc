"""The campaign catalogue of the accounts and sites services: campaigns learnt from their one
owner, the cases service's CampaignService, with the caller's own credentials, and cached
briefly so an import pays nothing per record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import grpc

from netnet.cases.v1 import campaigns_pb2, campaigns_pb2_grpc
from netnet.client.channel import open_channel
from netnet.client.tls import ClientTLS
from services.common.campaigns import Campaign
from services.common.errors import PermissionDenied, Unauthenticated, Unavailable
from services.common.reference import is_slug

KNOWN_TTL_SECONDS = 30.0  # how long a campaign's period and special actions are trusted
MISSING_TTL_SECONDS = 2.0  # ... and a campaign's absence (one created meanwhile shows soon)
CALL_TIMEOUT_SECONDS = 2.0
Metadata = tuple[tuple[str, str], ...]
REFUSALS = {
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def from_pb(m: campaigns_pb2.Campaign) -> Campaign:
    return Campaign(
        m.id,
        m.start_time.ToMicroseconds(),
        m.end_time.ToMicroseconds(),
        frozenset(s.id for s in m.special_actions),
    )


def caller_metadata(context: grpc.aio.ServicerContext) -> Metadata:
    """The caller's own credentials, passed on as they came (the service gains no rights)."""
    return tuple(
        (k, str(v)) for k, v in (context.invocation_metadata() or ()) if k == "authorization"
    )


class Catalogue:
    """Campaigns from the cases service, each kept KNOWN_TTL_SECONDS (an absence
    MISSING_TTL_SECONDS); a stale entry still answers when the cases service cannot be
    reached, and a campaign never seen is then UNAVAILABLE (the write is retryable)."""

    def __init__(self, target: str, tls: ClientTLS | None = None) -> None:
        self.target, self.tls = target, tls
        self._channel: grpc.aio.Channel | None = None
        self._stub: campaigns_pb2_grpc.CampaignServiceStub | None = None
        self._cache: dict[str, tuple[float, Campaign | None]] = {}

    async def resolve(self, ids: Iterable[str], metadata: Metadata) -> dict[str, Campaign | None]:
        """Each named campaign (None: it does not exist); no call when all are fresh."""
        now = time.monotonic()
        found: dict[str, Campaign | None] = {}
        wanted: list[str] = []
        for i in {i for i in ids if i and is_slug(i)}:
            cached = self._cache.get(i)
            if cached is not None and cached[0] > now:
                found[i] = cached[1]
            else:
                wanted.append(i)
        if wanted:
            # Calls waiting at once for a campaign not cached each ask (once a TTL at most).
            fetched = await asyncio.gather(*(self._call(i, metadata) for i in wanted))
            found.update(zip(wanted, fetched, strict=True))
        return found

    async def _call(self, campaign_id: str, metadata: Metadata) -> Campaign | None:
        if self._stub is None:
            self._channel = open_channel(
                self.target, tls=self.tls
            )  # the SDK's: retries reads on UNAVAILABLE
            self._stub = campaigns_pb2_grpc.CampaignServiceStub(self._channel)
        try:
            reply = await self._stub.GetCampaign(
                campaigns_pb2.GetCampaignRequest(name=f"campaigns/{campaign_id}"),
                metadata=metadata,
                timeout=CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                self._cache[campaign_id] = (time.monotonic() + MISSING_TTL_SECONDS, None)
                return None
            if e.code() in REFUSALS:  # the caller's own credentials, refused by the owner
                raise REFUSALS[e.code()](e.details() or "campaigns are not readable") from None
            stale = self._cache.get(campaign_id)
            if stale is not None and stale[1] is not None:
                return stale[1]
            raise Unavailable(
                f"cannot learn campaign {campaign_id!r} from the cases service "
                f"({e.code().name}); nothing was written, try again",
                reason="CAMPAIGNS_UNAVAILABLE",
            ) from None
        campaign = from_pb(reply.campaign)
        self._cache[campaign_id] = (time.monotonic() + KNOWN_TTL_SECONDS, campaign)
        return campaign

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
