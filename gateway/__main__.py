"""Start the gateway: python -m gateway (and its dashboard, on NETNET_GATEWAY_HTTP_ADDR)."""

from gateway.dashboard.app import start as start_dashboard
from gateway.servicer import register
from services.common.server import ServiceSpec, main

SPEC = ServiceSpec(
    name="gateway", migrations=None, register=register, companions=(start_dashboard,)
)

if __name__ == "__main__":
    main(SPEC)
