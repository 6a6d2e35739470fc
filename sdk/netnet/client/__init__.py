"""Net Net client SDK: a typed async client per service, one method per RPC.

from netnet.client import CasesClient, case_path
async with CasesClient() as cases:            # NETNET_CASES_ADDR, NETNET_TOKEN
    reply = await cases.get_case(name=case_path(7))
    async for case in await cases.list_cases(campaign_id="netnet-2021"):
        ...
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

__all__ = [
    "Aborted",
    "AccountsClient",
    "AlreadyExists",
    "AsyncPager",
    "CasesClient",
    "Client",
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
    "Unauthenticated",
    "Unavailable",
    *paths.__all__,
]
