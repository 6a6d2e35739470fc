"""Start the cases service: python -m services.cases."""

from pathlib import Path

from services.cases.servicer import register
from services.common.server import ServiceSpec, main

SPEC = ServiceSpec(name="cases", migrations=Path(__file__).parent / "migrations", register=register)

if __name__ == "__main__":
    main(SPEC)
