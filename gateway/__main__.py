"""Start the gateway: python -m gateway."""

from gateway.servicer import register
from services.common.server import ServiceSpec, main

SPEC = ServiceSpec(name="gateway", migrations=None, register=register)

if __name__ == "__main__":
    main(SPEC)
