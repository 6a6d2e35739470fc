"""SQL for accounts and their actions (a storage connection in, domain objects out)."""

from __future__ import annotations

from collections.abc import Iterator

from services.accounts.domain import Account, ActionRecord
from services.common import audit, paging, rollups
from services.common.storage import Conn
from services.common.storage.sql import insert_rows, rows_in

ACCOUNT_COLS = (
    "id, platform, platform_uid, kind, handle, status, suspended_until_us, "
    "first_action_us, last_action_us, action_count, revision"
)
ACTION_COLS = (
    "id, account_id, request_id, action, category, legal_basis, department, region, "
    "campaign_id, special_action, case_ref, actor, effective_us, suspend_until_us, "
    "record_us, retracted_us, retract_reason, retracted_by"
)

# What audit entries commit to: an action as recorded (not the lookup keys derived from it),
# and its retraction (its own write).
AUDITED_ACTIONS = audit.covered(
    "account_actions",
    "id, account_id, request_id, action, category, legal_basis, "
    "department, region, campaign_id, special_action, case_ref, actor, effective_us, "
    "suspend_until_us, record_us",
)
AUDITED_RETRACTIONS = audit.covered(
    "account_actions",
    "id, retracted_us, retract_reason, retracted_by",
    name="account_action_retractions",
    every_row=False,
)


def accounts_by_ident(conn: Conn, keys: list[int]) -> dict[int, Account]:
    return {
        key: Account(*cols)
        for key, *cols in rows_in(
            conn,
            f"SELECT ident_key, {ACCOUNT_COLS} FROM accounts WHERE ident_key IN ({{ids}})",
            keys,
        )
    }


def insert_accounts(conn: Conn, rows: list[tuple[int, Account]]) -> None:
    insert_rows(
        conn,
        f"accounts (ident_key, {ACCOUNT_COLS})",
        [
            (
                key,
                a.id,
                a.platform,
                a.platform_uid,
                a.kind,
                a.handle,
                a.status,
                a.suspended_until_us,
                a.first_action_us,
                a.last_action_us,
                a.action_count,
                a.revision,
            )
            for key, a in rows
        ],
    )


def update_accounts(conn: Conn, accounts: list[Account]) -> None:
    if not accounts:
        return
    conn.executemany(
        "UPDATE accounts SET handle = ?, status = ?, suspended_until_us = ?, first_action_us = ?,"
        " last_action_us = ?, action_count = ?, revision = ? WHERE id = ?",
        [
            (
                a.handle,
                a.status,
                a.suspended_until_us,
                a.first_action_us,
                a.last_action_us,
                a.action_count,
                a.revision,
                a.id,
            )
            for a in accounts
        ],
    )


INSERTED_ACTION_COLS = f"request_key, body_hash, {ACTION_COLS}"


def insert_actions(conn: Conn, rows: list[tuple[int, int, ActionRecord]]) -> audit.Written:
    """rows: (request key, body hash, action). Returns what it inserted."""
    values: list[tuple[object, ...]] = [
        (
            key,
            body,
            r.id,
            r.account_id,
            r.request_id,
            r.action,
            r.category,
            r.legal_basis,
            r.department,
            r.region,
            r.campaign_id,
            r.special_action,
            r.case,
            r.actor,
            r.effective_us,
            r.suspend_until_us,
            r.record_us,
            r.retracted_us,
            r.retract_reason,
            r.retracted_by,
        )
        for key, body, r in rows
    ]
    insert_rows(conn, f"account_actions ({INSERTED_ACTION_COLS})", values)
    return INSERTED_ACTION_COLS, values


def retract(conn: Conn, action_id: int, now_us: int, reason: str, by: str) -> None:
    conn.execute(
        "UPDATE account_actions SET retracted_us = ?, retract_reason = ?, "
        "retracted_by = ? WHERE id = ?",
        (now_us, reason, by, action_id),
    )


def live_actions_of_kind(conn: Conn, kind: int) -> Iterator[ActionRecord]:
    """The actions not retracted on accounts of one kind, in id order."""
    cols = ", ".join(f"x.{c}" for c in ACTION_COLS.split(", "))
    for row in conn.execute(
        f"SELECT {cols} FROM accounts a CROSS JOIN account_actions x ON x.account_id = a.id "
        "WHERE a.kind = ? AND x.retracted_us IS NULL ORDER BY x.id",
        (kind,),
    ):
        yield ActionRecord(*row)


def get_account(conn: Conn, account_id: int) -> Account | None:
    row = conn.execute(
        f"SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?", (account_id,)
    ).fetchone()
    return Account(*row) if row else None


def get_accounts(conn: Conn, ids: list[int]) -> dict[int, Account]:
    sql = f"SELECT {ACCOUNT_COLS} FROM accounts WHERE id IN ({{ids}})"
    return {row[0]: Account(*row) for row in rows_in(conn, sql, ids)}


def get_action(conn: Conn, action_id: int) -> ActionRecord | None:
    row = conn.execute(
        f"SELECT {ACTION_COLS} FROM account_actions WHERE id = ?", (action_id,)
    ).fetchone()
    return ActionRecord(*row) if row else None


def actions_of(
    conn: Conn,
    account_id: int,
    after_id: int = 0,
    limit: int = -1,
    newest_first: bool = False,
) -> list[ActionRecord]:
    """Actions in id order (or newest first), after a keyset position (0: the start)."""
    rows = paging.children_page(
        conn,
        "account_actions",
        ACTION_COLS,
        "account_id",
        account_id,
        after_id,
        limit,
        newest_first,
    )
    return [ActionRecord(*row) for row in rows]


def list_accounts(
    conn: Conn,
    after_id: int,
    limit: int,
    platform: str,
    kind: int,
    status: int,
    marks: dict[str, str],
    ident_key: int = 0,
) -> list[Account]:
    conds: list[str] = ["a.id > ?"]
    params: list[object] = [after_id]
    for column, value in (
        ("platform", platform),
        ("kind", kind),
        ("status", status),
        ("ident_key", ident_key),
    ):
        if value:
            conds.append(f"a.{column} = ?")
            params.append(value)
    sql, p = rollups.subject_filter("actions", "a.id", marks)
    conds.append(sql)
    params += p
    rows = conn.execute(
        f"SELECT {', '.join('a.' + c for c in ACCOUNT_COLS.split(', '))} "
        f"FROM accounts a WHERE {' AND '.join(conds)} ORDER BY a.id LIMIT ?",
        (*params, limit),
    )
    return [Account(*row) for row in rows]
