"""Start the sites service: python -m services.sites."""

from pathlib import Path

from services.common.server import ServiceSpec, main
from services.sites.servicer import overdue_sweep, register

SPEC = ServiceSpec(
    name="sites",
    migrations=Path(__file__).parent / "migrations",
    register=register,
    background=(overdue_sweep,),
)

if __name__ == "__main__":
    main(SPEC)
