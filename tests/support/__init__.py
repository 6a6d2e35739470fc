"""What every test layer shares: servers, rpc calls and error checks, fault proxies, oracles."""
