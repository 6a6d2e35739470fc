"""Net Net client SDK: a typed async client per service, one method per RPC.

from netnet.client import CasesClient, case_path
async with CasesClient() as cases:            # NETNET_CASES_ADDR, NETNET_TOKEN
    reply = await cases.get_case(name=case_path(7))
    async for case in await cases.list_cases(campaign_id="netnet-2021"):
        ...

Channels use TLS when NETNET_TLS_CA (or NETNET_TLS_CLIENT_CERT/KEY, mutual TLS) is set; in code:
CasesClient(channel=open_channel(target, tls=ClientTLS.of(ca, cert, key))) (netnet.client.channel).
"""

from netnet.client import paths
from netnet.client.base import AsyncPager, Client
from netnet.client.errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NetNetError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from netnet.client.paths import *  # noqa: F403 (the names of paths.__all__)
from netnet.client.services import AccountsClient, CasesClient, GatewayClient, SitesClient
from netnet.client.tls import ClientTLS, TLSConfigError

__all__ = [
    "Aborted",
    "AccountsClient",
    "AlreadyExists",
    "AsyncPager",
    "CasesClient",
    "Client",
    "ClientTLS",
    "DeadlineExceeded",
    "FailedPrecondition",
    "GatewayClient",
    "Internal",
    "InvalidArgument",
    "NetNetError",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "SitesClient",
    "TLSConfigError",
    "Unauthenticated",
    "Unavailable",
    *paths.__all__,
]
