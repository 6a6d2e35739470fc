"""Every service test runs on both backends: SQLite files, then PostgreSQL (one schema per
service per test, in a database of the session's own that is dropped at its end). Where no
PostgreSQL server can be had, that half skips, saying why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import stores


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql":
        stores.use(request.getfixturevalue("postgresql_database").url)
    yield request.param
    stores.use("")


@pytest.fixture(autouse=True)
def on_backend(request: pytest.FixtureRequest, backend: str) -> str:
    """The test's backend; a test marked sqlite_only("why") or postgresql_only("why") skips on
    the other, saying why."""
    for name in ("sqlite", "postgresql"):
        only = request.node.get_closest_marker(f"{name}_only")
        if only is not None and backend != name:
            pytest.skip(f"{name} only: {only.args[0]}")
    return backend
