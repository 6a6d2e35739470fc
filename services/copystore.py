"""Copy a service's SQLite store into a PostgreSQL schema, verified:

    python -m services.copystore SERVICE SQLITE_FILE POSTGRESQL_URL [--audit-key-file PATH]

POSTGRESQL_URL as NETNET_DATABASE_URL takes it (`?schema=NAME`, default the service's name).
Exit 0: copied and verified; 1: refused or failed (no record copied); 2: bad arguments."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from services.common import config, storage
from services.common.server import ServiceSpec
from services.common.storage.copy import CopyError, copy_store
from services.common.storage.postgres import redacted

SERVICES = ("accounts", "sites", "cases")
PROG = "python -m services.copystore"
# What a copy that could not be done raises, besides a CopyError: the drivers', the files'.
FAILED: tuple[type[Exception], ...] = (*storage.Error, OSError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the usage as well
        self.exit(2, f"{PROG}: {message} (see --help)\n")


def _fail(code: int, message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def _one_line(e: BaseException) -> str:
    return "; ".join(line.strip() for line in str(e).splitlines() if line.strip()) or repr(e)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("sqlite_file", type=Path, help="the service's SQLite store")
    parser.add_argument("postgresql_url", help="postgresql://USER@HOST:PORT/DATABASE[?schema=NAME]")
    parser.add_argument(
        "--audit-key-file",
        type=Path,
        help="the audit key the service ran with (default: NETNET_AUDIT_KEY_FILE, else "
        "audit.key beside the SQLite file)",
    )
    args = parser.parse_args(argv)
    service: str = args.service
    source: Path = args.sqlite_file
    db: str = args.postgresql_url
    if not db.startswith(("postgresql://", "postgres://")):
        return _fail(2, f"POSTGRESQL_URL {redacted(db)!r} is not a postgresql:// URL")
    try:
        url, schema = config.database(service, db)
    except config.ConfigError as e:
        return _fail(2, f"POSTGRESQL_URL: {str(e).removeprefix('NETNET_DATABASE_URL: ')}")
    if not source.is_file():
        return _fail(2, f"{source}: {'not a file' if source.exists() else 'no such file'}")
    # As the service finds its key (config.audit_key_file), its data directory the file's.
    key_file = args.audit_key_file or config.audit_key_file(
        {**os.environ, "NETNET_DATA_DIR": str(source.parent)}
    )
    if not key_file.is_file():
        return _fail(2, f"no audit key at {key_file}: name the service's with --audit-key-file")
    # The service's spec: its migrations, and (imported with it) the rows its chain covers.
    spec: ServiceSpec = importlib.import_module(f"services.{service}.__main__").SPEC
    assert spec.migrations is not None
    try:
        copy_store(service, spec.migrations, source, url, schema, key_file)
    except CopyError as e:
        return _fail(1, str(e))
    except FAILED as e:
        return _fail(1, f"the copy failed, no record was copied: {_one_line(e)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
