"""Start the accounts service: python -m services.accounts."""

from pathlib import Path

from services.accounts.servicer import register
from services.common.server import ServiceSpec, main

SPEC = ServiceSpec(
    name="accounts", migrations=Path(__file__).parent / "migrations", register=register
)

if __name__ == "__main__":
    main(SPEC)
