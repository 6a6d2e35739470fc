-- Tables of the shared runtime, present in every service's database.

CREATE TABLE idempotency (
    request_id   TEXT NOT NULL,
    method       TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     BLOB NOT NULL,
    created_us   INTEGER NOT NULL,
    PRIMARY KEY (request_id, method)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    time_us    INTEGER NOT NULL,
    operator   TEXT NOT NULL,
    department TEXT NOT NULL,
    method     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

-- The chain's last link, so that deleting the newest entries is detected too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '');

CREATE TABLE change_log (
    seq         INTEGER PRIMARY KEY,
    time_us     INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    resource    TEXT NOT NULL,
    department  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    count       INTEGER NOT NULL
);

-- Rollup counters: one row per (rollup, dimension values, day).
CREATE TABLE rollup_counts (
    rollup         TEXT NOT NULL,
    department     TEXT NOT NULL,
    action         TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL,
    day            TEXT NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (rollup, department, action, category, campaign_id, special_action, day)
) WITHOUT ROWID;

-- Which dimension values each subject (account, site) has live records under.
CREATE TABLE rollup_marks (
    rollup         TEXT NOT NULL,
    subject_id     INTEGER NOT NULL,
    department     TEXT NOT NULL,
    action         TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (rollup, subject_id, department, action, category, campaign_id, special_action)
) WITHOUT ROWID;

-- Distinct subjects per subset of dimensions; '*' stands for "any value".
CREATE TABLE rollup_distinct (
    rollup         TEXT NOT NULL,
    department     TEXT NOT NULL,
    action         TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (rollup, department, action, category, campaign_id, special_action)
) WITHOUT ROWID;
