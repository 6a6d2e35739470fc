-- Accounts and the actions taken on them. Hot tables stay on integer keys: natural keys
-- (platform + uid, request id) are looked up through 64-bit hashes, the text kept beside.

CREATE TABLE accounts (
    id                 INTEGER PRIMARY KEY,
    ident_key          INTEGER NOT NULL UNIQUE,
    platform           TEXT NOT NULL,
    platform_uid       TEXT NOT NULL,
    kind               INTEGER NOT NULL,
    handle             TEXT NOT NULL,
    status             INTEGER NOT NULL,
    suspended_until_us INTEGER,
    first_action_us    INTEGER,
    last_action_us     INTEGER,
    action_count       INTEGER NOT NULL,
    revision           INTEGER NOT NULL
);

CREATE TABLE account_actions (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    request_key      INTEGER NOT NULL UNIQUE,
    request_id       TEXT NOT NULL,
    body_hash        INTEGER NOT NULL,
    action           INTEGER NOT NULL,
    category         TEXT NOT NULL,
    legal_basis      TEXT NOT NULL,
    department       TEXT NOT NULL,
    region           TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    special_action   TEXT NOT NULL,
    case_ref         TEXT NOT NULL,
    actor            TEXT NOT NULL,
    effective_us     INTEGER NOT NULL,
    suspend_until_us INTEGER,
    record_us        INTEGER NOT NULL,
    retracted_us     INTEGER,
    retract_reason   TEXT NOT NULL DEFAULT '',
    retracted_by     TEXT NOT NULL DEFAULT ''
);

CREATE INDEX account_actions_by_account ON account_actions (account_id, id);
