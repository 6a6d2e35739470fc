"""Start the accounts service: python -m services.accounts."""

from pathlib import Path

from services.accounts.domain import GROUP_ROLLUP
from services.accounts.operations import group_deltas
from services.accounts.servicer import register
from services.common.server import ServiceSpec, main

SPEC = ServiceSpec(
    name="accounts",
    migrations=Path(__file__).parent / "migrations",
    register=register,
    rollup_sources={GROUP_ROLLUP: group_deltas},
)

if __name__ == "__main__":
    main(SPEC)
