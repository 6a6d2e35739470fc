"""Net Net client SDK: a small async client per service over the generated stubs.

from netnet.client import AccountsClient
async with AccountsClient() as accounts:          # NETNET_ACCOUNTS_ADDR, NETNET_TOKEN
    reply = await accounts.call(accounts.stub.GetStats, GetStatsRequest())
"""

from netnet.client.base import AccountsClient, CasesClient, Client, GatewayClient, SitesClient
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
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "Aborted",
    "AccountsClient",
    "AlreadyExists",
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
    "SitesClient",
    "Unauthenticated",
    "Unavailable",
]
