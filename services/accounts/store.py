"""SQL for accounts and their actions (a storage connection in, domain objects out)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.accounts.domain import (
    ACTION_RULES,
    STATUS_RULES,
    Account,
    Action,
    ActionRecord,
    Status,
)
from services.common import audit, paging, rollups
from services.common.storage import Conn
from services.common.storage.sql import NO_LIMIT, children_of, rows_in
from services.common.storage.staged import ACCEPTED, Stage

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
    limit: int = NO_LIMIT,
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


# --- a batch of actions, set-based (operations.record) --------------------------------------

# A batch's actions as read and checked: one row each (stage_row), then the statements below.
TEXT_COLUMNS = frozenset(
    "request_id platform platform_uid handle action_name category legal_basis department "
    "region campaign_id special_action case_ref day".split()
)
STAGE = Stage(
    "staged_actions",
    (
        "idx",
        "request_key",
        "body_hash",
        "request_id",
        "ident_key",
        "platform",
        "platform_uid",
        "kind",
        "handle",
        "action",
        "action_name",
        "category",
        "legal_basis",
        "department",
        "region",
        "campaign_id",
        "special_action",
        "case_ref",
        "effective_us",
        "suspend_until_us",
        "day",
    ),
    computed=("account_id INTEGER", "late INTEGER NOT NULL DEFAULT 0"),
    dims=("department", "action_name", "category", "campaign_id", "special_action"),
    text=TEXT_COLUMNS,
    indexes=("ident_key, idx", "account_id"),
)
_S = STAGE.table
_RESTORE = int(Action.RESTORE)
_OK = f"state = {ACCEPTED}"


def create_accounts(conn: Conn) -> int:
    """An account for each identity the batch's accepted actions name that none has yet,
    as its first action there that is not a restore names it (status active, no actions
    yet; a restore, always refused on a new account, does not fix its kind), ids handed out
    in the batch's order; every staged action then holds its account's id (a restore of an
    identity with no account, none). Returns the largest id before (the accounts made are
    those above it)."""
    (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM accounts").fetchone()
    conn.execute(
        f"INSERT INTO accounts ({ACCOUNT_COLS}, ident_key) "
        f"SELECT ? + ROW_NUMBER() OVER (ORDER BY idx), platform, platform_uid, kind, '', "
        f"{int(Status.ACTIVE)}, NULL, NULL, NULL, 0, 0, ident_key FROM {_S} s "
        f"WHERE {_OK} AND s.action <> {_RESTORE} AND NOT EXISTS (SELECT 1 FROM {_S} f "
        f"WHERE f.ident_key = s.ident_key AND f.{_OK} AND f.action <> {_RESTORE} "
        "AND f.idx < s.idx) "
        "AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.ident_key = s.ident_key)",
        (before,),
    )
    conn.execute(
        f"UPDATE {_S} AS s SET account_id = a.id FROM accounts a WHERE a.ident_key = s.ident_key"
    )
    return int(before)


def without_account(conn: Conn) -> list[int]:
    """Accepted actions with no account (restores of an identity no account has)."""
    return [i for (i,) in conn.execute(f"SELECT idx FROM {_S} WHERE {_OK} AND account_id IS NULL")]


def identity_mismatches(conn: Conn) -> list[tuple[int, int, bool]]:
    """Accepted actions whose account is of another kind, or whose identity key another
    identity holds: (idx, the account's kind, whether the identity is the same)."""
    return conn.execute(
        f"SELECT s.idx, a.kind, a.platform = s.platform AND a.platform_uid = s.platform_uid "
        f"FROM {_S} s CROSS JOIN accounts a ON a.id = s.account_id WHERE s.{_OK} AND "
        "(a.kind <> s.kind OR a.platform <> s.platform OR a.platform_uid <> s.platform_uid)"
    ).fetchall()


def mark_late(conn: Conn, calls: bool) -> list[int]:
    """Mark the accounts the statements below do not fold (each folded on its own, as one
    call at a time would, in the batch's order): an accepted action of theirs reaches back
    before their last stored action or an earlier one of the batch, or is a restore (which
    needs the status just before it); in a batch of calls, also an account with several
    (each call is answered with the account right after it). Returns them."""
    several = (
        f" OR account_id IN (SELECT account_id FROM {_S} WHERE {_OK} "
        "GROUP BY account_id HAVING COUNT(*) > 1)"
    )
    conn.execute(
        f"UPDATE {_S} SET late = 1 WHERE account_id IN (SELECT s.account_id FROM {_S} s "
        f"CROSS JOIN accounts a ON a.id = s.account_id WHERE s.{_OK} "
        f"AND (s.effective_us < a.last_action_us OR s.action = {int(Action.RESTORE)})) "
        "OR account_id IN (SELECT account_id FROM "
        "(SELECT account_id, effective_us, MAX(effective_us) OVER (PARTITION BY account_id "
        "ORDER BY idx ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest "
        f"FROM {_S} WHERE {_OK}) o WHERE o.effective_us < o.latest)" + (several if calls else "")
    )
    return [i for (i,) in conn.execute(f"SELECT DISTINCT account_id FROM {_S} WHERE late = 1")]


def histories(conn: Conn, accounts: list[int]) -> dict[int, list[ActionRecord]]:
    """The stored actions of these accounts, each in id order."""
    found = children_of(conn, "account_actions", ACTION_COLS, "account_id", accounts)
    return {i: [ActionRecord(*row) for row in rows] for i, rows in found.items()}


# Each account not late (its actions of the batch in effective order, none a restore) as
# they leave it: the heaviest of them, if no lighter than its status; suspended until the
# last suspension's end while suspended; the last handle given; counts, times and revision
# advanced by one an action. The status rule as data: (action, severity, result) and
# (status, severity) from the domain's tables.
_FOLDED = (
    "action_rule (action, severity, result) AS (VALUES "
    + ", ".join(f"({a}, {n}, {s})" for a, n, s in ACTION_RULES)
    + "), status_rule (status, severity) AS (VALUES "
    + ", ".join(f"({s}, {n})" for s, n in STATUS_RULES)
    + "), batch AS (SELECT s.account_id, COUNT(*) AS n, MAX(r.severity) AS severity, "
    "MIN(s.effective_us) AS first_us, MAX(s.effective_us) AS last_us, "
    f"MAX(CASE WHEN s.action = {int(Action.SUSPEND)} THEN s.idx END) AS suspended, "
    "MAX(CASE WHEN s.handle <> '' THEN s.idx END) AS named "
    f"FROM {_S} s CROSS JOIN action_rule r ON r.action = s.action "
    f"WHERE s.{_OK} AND s.late = 0 GROUP BY s.account_id), "
    "folded AS (SELECT b.account_id, b.n, b.first_us, b.last_us, "
    "CASE WHEN b.severity >= st.severity THEN sv.result ELSE a.status END AS status, "
    "COALESCE(su.suspend_until_us, a.suspended_until_us) AS until, "
    "COALESCE(h.handle, a.handle) AS handle FROM batch b "
    "CROSS JOIN accounts a ON a.id = b.account_id "
    "CROSS JOIN status_rule st ON st.status = a.status "
    "CROSS JOIN action_rule sv ON sv.severity = b.severity "
    f"LEFT JOIN {_S} su ON su.idx = b.suspended LEFT JOIN {_S} h ON h.idx = b.named)"
)


def fold_accounts(conn: Conn) -> None:
    """Each account not late as its accepted actions of the batch leave it (see _FOLDED)."""
    conn.execute(
        f"WITH {_FOLDED} UPDATE accounts SET status = x.status, suspended_until_us = "
        f"CASE WHEN x.status = {int(Status.SUSPENDED)} THEN x.until END, handle = x.handle, "
        "first_action_us = COALESCE(accounts.first_action_us, x.first_us), "
        "last_action_us = x.last_us, action_count = accounts.action_count + x.n, "
        "revision = accounts.revision + x.n FROM folded x WHERE accounts.id = x.account_id"
    )


def actions_left(conn: Conn) -> dict[int, int]:
    """idx -> its account, of the accepted actions not late (in a batch of calls, each the
    one action of its account: the account as it now stands is as the action left it)."""
    return dict(conn.execute(f"SELECT idx, account_id FROM {_S} WHERE {_OK} AND late = 0"))


def drop_unused_accounts(conn: Conn, before: int) -> None:
    """Accounts made for this batch whose every action was refused are not kept."""
    conn.execute(
        f"DELETE FROM accounts WHERE id > ? AND id NOT IN "
        f"(SELECT account_id FROM {_S} WHERE {_OK})",
        (before,),
    )


def insert_staged_actions(conn: Conn, actor: str, now_us: int) -> int:
    """Insert the accepted actions, ids handed out in the batch's order; returns the largest
    id before (those inserted are above it)."""
    (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM account_actions").fetchone()
    conn.execute(
        f"INSERT INTO account_actions ({INSERTED_ACTION_COLS}) SELECT request_key, body_hash, "
        "? + ROW_NUMBER() OVER (ORDER BY idx), account_id, request_id, action, category, "
        "legal_basis, department, region, campaign_id, special_action, case_ref, ?, "
        f"effective_us, suspend_until_us, ?, NULL, '', '' FROM {_S} WHERE {_OK}",
        (before, actor, now_us),
    )
    return int(before)


def action_rows_after(conn: Conn, before: int) -> list[tuple[Any, ...]]:
    """The actions above an id, as stored (ACTION_COLS), in id order."""
    return conn.execute(
        f"SELECT {ACTION_COLS} FROM account_actions WHERE id > ? ORDER BY id", (before,)
    ).fetchall()


def save_accounts(conn: Conn, accounts: list[Account]) -> None:
    """Accounts whose state was worked out outside the statements (late ones)."""
    update_accounts(conn, accounts)
