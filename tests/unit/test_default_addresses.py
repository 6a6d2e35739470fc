"""One table of the fixed default addresses (DESIGN §7), for the servers, the SDK and the CLI."""

from __future__ import annotations

from netnet.client import config as client_config
from services.common import config


def test_one_table_of_the_fixed_default_addresses() -> None:
    assert config.DEFAULT_ADDRS is client_config.DEFAULT_ADDRS
    assert client_config.DEFAULT_ADDRS == {
        "gateway": "127.0.0.1:50050",
        "accounts": "127.0.0.1:50051",
        "sites": "127.0.0.1:50052",
        "cases": "127.0.0.1:50053",
    }


def test_the_servers_and_the_sdk_default_to_the_same_addresses() -> None:
    for service, addr in client_config.DEFAULT_ADDRS.items():
        assert config.service_addr(service, {}) == addr
