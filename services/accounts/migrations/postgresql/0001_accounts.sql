-- Accounts and the actions taken on them. Hot tables stay on integer keys: natural keys
-- (platform + uid, request id) are looked up through 64-bit hashes, the text kept beside.

CREATE TABLE accounts (
    id                 BIGINT PRIMARY KEY,
    ident_key          BIGINT NOT NULL UNIQUE,
    platform           TEXT COLLATE "C" NOT NULL,
    platform_uid       TEXT COLLATE "C" NOT NULL,
    kind               BIGINT NOT NULL,
    handle             TEXT COLLATE "C" NOT NULL,
    status             BIGINT NOT NULL,
    suspended_until_us BIGINT,
    first_action_us    BIGINT,
    last_action_us     BIGINT,
    action_count       BIGINT NOT NULL,
    revision           BIGINT NOT NULL
);

CREATE TABLE account_actions (
    id               BIGINT PRIMARY KEY,
    account_id       BIGINT NOT NULL REFERENCES accounts (id),
    request_key      BIGINT NOT NULL UNIQUE,
    request_id       TEXT COLLATE "C" NOT NULL,
    body_hash        BIGINT NOT NULL,
    action           BIGINT NOT NULL,
    category         TEXT COLLATE "C" NOT NULL,
    legal_basis      TEXT COLLATE "C" NOT NULL,
    department       TEXT COLLATE "C" NOT NULL,
    region           TEXT COLLATE "C" NOT NULL,
    campaign_id      TEXT COLLATE "C" NOT NULL,
    special_action   TEXT COLLATE "C" NOT NULL,
    case_ref         TEXT COLLATE "C" NOT NULL,
    actor            TEXT COLLATE "C" NOT NULL,
    effective_us     BIGINT NOT NULL,
    suspend_until_us BIGINT,
    record_us        BIGINT NOT NULL,
    retracted_us     BIGINT,
    retract_reason   TEXT COLLATE "C" NOT NULL DEFAULT '',
    retracted_by     TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE INDEX account_actions_by_account ON account_actions (account_id, id);
