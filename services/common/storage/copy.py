"""One service's SQLite store copied into a PostgreSQL schema, verified (python -m
services.copystore).

The SQLite file is read in one snapshot, opened read-only; it must be the service's, with
every migration applied. The schema is made and migrated as the service does at start, and
must hold no record yet. Every table goes over with COPY in one transaction, under the
schema's write lock; before it commits, the row counts of both sides must be equal and the
audit chain must verify on PostgreSQL with the service's audit key, up to the head the SQLite
store has. Anything else rolls the transaction back: no record is copied (the schema stays
made and migrated, as a first start of the service would leave it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import suppress
from graphlib import TopologicalSorter
from pathlib import Path

import psycopg

from services.common import audit
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, steps
from services.common.storage.postgres import (
    PgConn,
    connect,
    migrate,
    redacted,
    write_begin,
)

# Rows of a fresh schema that are not records: the chain's head before any entry, and the
# rollups a migration marks to recount (the copy brings the SQLite store's own).
NOT_RECORDS = {"schema_migrations": "FALSE", "audit_head": "seq <> 0", "rollup_rebuilds": "FALSE"}
ROLLED_BACK = "rolled back, no record was copied"


class CopyError(Exception):
    """A refusal, or a copy that does not verify: no record was copied."""


def copy_store(
    service: str,
    migrations: Path,
    source_path: Path,
    url: str,
    schema: str,
    audit_key_file: Path,
    say: Callable[[str], None] = print,
) -> None:
    """Copy the service's SQLite store at source_path into the schema; raise CopyError (or
    the driver's error) when it cannot be done and verified."""
    dirs = [("runtime", RUNTIME_MIGRATIONS), (service, migrations)]
    key = audit_key_file.read_text().strip().encode()
    say(f"{service}: {source_path} -> {redacted(url)} schema {schema}")
    source = _open_source(source_path)
    try:
        _check_source(source, service, dirs, source_path)
        source.execute("BEGIN")  # one snapshot for all that is read
        checked = audit.verify(source, key)
        if not checked.ok:
            raise CopyError(
                f"{source_path}: its audit chain does not verify with the key in "
                f"{audit_key_file}: {checked.problem}"
            )
        say(f"SQLite: every migration applied; audit chain verifies ({checked.checked} entries)")
        target = _open_target(url, schema, service, dirs, say)
        try:
            _copy(source, target, schema, key, say)
        finally:
            target.close()
    finally:
        source.close()
    join = "&" if "?" in url else "?"
    say(f"done: run {service} with NETNET_DATABASE_URL={redacted(url)}{join}schema={schema}")


def _open_source(path: Path) -> SqliteConn:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, factory=SqliteConn)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        conn.close()
        raise CopyError(f"{path}: not a SQLite database ({e})") from None
    return conn


def _applied(conn: SqliteConn | PgConn, exists: str) -> list[str] | None:
    """The names in schema_migrations, or None when the query `exists` finds no such table
    (its one value NULL)."""
    if conn.execute(exists).fetchone()[0] is None:
        return None
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations").fetchall()]


def _others(names: Sequence[str], service: str) -> set[str]:
    """The services other than this one whose migrations are among the names."""
    return {n.partition("/")[0] for n in names} - {"runtime", service}


def _check_source(conn: SqliteConn, service: str, dirs: list[tuple[str, Path]], path: Path) -> None:
    names = _applied(conn, "SELECT MAX(name) FROM sqlite_master WHERE name = 'schema_migrations'")
    if names is None:
        raise CopyError(f"{path}: not a Net Net store (no schema_migrations table)")
    others = _others(names, service)
    if others:
        raise CopyError(f"{path} is a store of {', '.join(sorted(others))}, not of {service}")
    known = [name for name, _ in steps(dirs)]
    missing = [n for n in known if n not in names]
    if missing:
        raise CopyError(
            f"{path}: migrations not applied: {', '.join(missing)}; start the service once "
            "on this file to bring it up to date"
        )
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise CopyError(
            f"{path}: migrations this version does not know: {', '.join(unknown)}; copy it "
            "with the version that wrote it"
        )


def _refuse_records(conn: PgConn, schema: str) -> None:
    """Refuse a schema whose tables hold records (see NOT_RECORDS)."""
    found = []
    for table in _tables(conn, schema):
        where = NOT_RECORDS.get(table, "TRUE")
        sql = f'SELECT EXISTS (SELECT 1 FROM "{schema}"."{table}" WHERE {where})'
        if conn.execute(sql).fetchone()[0]:
            found.append(table)
    if found:
        raise CopyError(f"the target schema is not empty: {schema} has rows in {', '.join(found)}")


def _tables(conn: PgConn, schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
        (schema,),
    ).fetchall()
    return [row[0] for row in rows]


def _open_target(
    url: str, schema: str, service: str, dirs: list[tuple[str, Path]], say: Callable[[str], None]
) -> PgConn:
    """The schema, migrated as the service does at start: refused first when it holds
    records or another service's store (the migrations would change it)."""
    conn = connect(url, schema)
    try:
        names = _applied(conn, f"SELECT to_regclass('\"{schema}\".schema_migrations')")
        others = _others(names or [], service)
        if others:
            raise CopyError(
                f"schema {schema} holds a store of {', '.join(sorted(others))}, not of {service}"
            )
        _refuse_records(conn, schema)
    finally:
        conn.close()
    conn, applied = migrate(url, schema, dirs)
    say(f"PostgreSQL: schema {schema} migrated ({len(applied)} migrations applied now)")
    return conn


def _order(conn: PgConn, schema: str, tables: list[str]) -> list[str]:
    """The tables, each after those its foreign keys name."""
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
        "SELECT c.relname, p.relname FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
        "JOIN pg_namespace n ON n.oid = k.connamespace WHERE k.contype = 'f' AND n.nspname = ?",
        (schema,),
    ).fetchall():
        if child in parents and parent in parents and parent != child:
            parents[child].add(parent)
    return list(TopologicalSorter(parents).static_order())


def _columns(conn: SqliteConn, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _types(conn: PgConn, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ?",
        (schema, table),
    ).fetchall()
    return dict(rows)


def _copy(
    source: SqliteConn, target: PgConn, schema: str, key: bytes, say: Callable[[str], None]
) -> None:
    """Every table, in one transaction that commits only when the copy verifies."""
    names = source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_migrations'"
    ).fetchall()
    tables = sorted(row[0] for row in names)
    missing = sorted(set(tables) - set(_tables(target, schema)))
    if missing:
        raise CopyError(f"schema {schema} has no table {', '.join(missing)}")
    target.execute(write_begin(schema))  # the service's writers wait for the copy
    try:
        _refuse_records(target, schema)
        order = _order(target, schema, tables)
        for table in reversed(order):  # the fresh schema's seed rows
            target.execute(f'DELETE FROM "{table}"')
        for table in order:
            _copy_table(source, target, schema, table)
        _verify(source, target, tables, key, say)
        _continue_identities(target, schema, say)
        target.execute("COMMIT")
    except BaseException:
        with suppress(psycopg.Error):  # a connection gone has nothing to roll back
            target.execute("ROLLBACK")
        raise


def _copy_table(source: SqliteConn, target: PgConn, schema: str, table: str) -> None:
    columns = _columns(source, table)
    types = _types(target, schema, table)
    absent = [c for c in columns if c not in types]
    if absent:
        raise CopyError(f"{schema}.{table} has no column {', '.join(absent)}")
    listed = ", ".join(f'"{c}"' for c in columns)
    kinds = [types[c] for c in columns]
    # Binary, each value as its column's type: bytes go in as bytea, whole numbers as
    # bigint, texts as text; a value of another type is an error, not a conversion.
    with (
        target.raw.cursor() as cursor,
        cursor.copy(f'COPY "{table}" ({listed}) FROM STDIN (FORMAT BINARY)') as copy,
    ):
        copy.set_types(kinds)
        for row in source.execute(f'SELECT {listed} FROM "{table}"'):
            try:
                copy.write_row(row)
            except (TypeError, ValueError, OverflowError) as e:  # SQLite's types are loose
                raise CopyError(
                    f"{table}: the row whose {columns[0]} is {row[0]!r} does not fit the "
                    f"PostgreSQL columns ({', '.join(kinds)}): {e}; "
                    f"{ROLLED_BACK}"
                ) from None


def _count(conn: SqliteConn | PgConn, table: str) -> int:
    return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def _head(conn: SqliteConn | PgConn) -> tuple[int, str]:
    seq, digest = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return int(seq), str(digest)


def _verify(
    source: SqliteConn,
    target: PgConn,
    tables: list[str],
    key: bytes,
    say: Callable[[str], None],
) -> None:
    """Row counts equal on both sides; the chain verifies on PostgreSQL, to SQLite's head."""
    width = max(len("table"), *map(len, tables))
    say(f"{'table':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}")
    differ, total = [], 0
    for table in tables:
        there, here = _count(source, table), _count(target, table)
        say(f"{table:<{width}}  {there:>10}  {here:>10}")
        total += here
        if there != here:
            differ.append(table)
    if differ:
        raise CopyError(f"row counts differ in {', '.join(differ)}: {ROLLED_BACK}")
    say(f"rows: equal in every table ({len(tables)} tables, {total} rows)")
    checked = audit.verify(target, key)
    if not checked.ok:
        raise CopyError(
            f"the audit chain does not verify on PostgreSQL ({checked.problem}): {ROLLED_BACK}"
        )
    head, want = _head(target), _head(source)
    if head != want:
        raise CopyError(f"the audit head is {head} on PostgreSQL, {want} on SQLite: {ROLLED_BACK}")
    say(
        f"audit chain: verifies on PostgreSQL ({checked.checked} entries); head seq {head[0]} "
        f"hash {head[1][:16]}… as on SQLite"
    )


def _continue_identities(conn: PgConn, schema: str, say: Callable[[str], None]) -> None:
    """Each identity column's sequence set to go on after the largest value copied."""
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') "
        "ORDER BY table_name, column_name",
        (schema,),
    ).fetchall():
        (last,) = conn.execute(
            f'SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX("{column}"), 0) + 1, '
            f'false) - 1 FROM "{table}"',
            (f'"{schema}"."{table}"', column),
        ).fetchone()
        say(f"{table}.{column}: goes on after {last}")
