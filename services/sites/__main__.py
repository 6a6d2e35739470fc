"""Start the sites service: python -m services.sites."""

from pathlib import Path

from services.common.server import ServiceSpec, main
from services.sites.domain import BAN_CLOSE_ROLLUP
from services.sites.operations.sites import ban_close_deltas, overdue_sweep
from services.sites.servicer import register

SPEC = ServiceSpec(
    name="sites",
    migrations=Path(__file__).parent / "migrations",
    register=register,
    background=(overdue_sweep,),
    rollup_sources={BAN_CLOSE_ROLLUP: ban_close_deltas},
)

if __name__ == "__main__":
    main(SPEC)
