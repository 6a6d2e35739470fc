-- Sites and apps, their actions, notice batches, and content dispositions. Natural keys are
-- looked up through 64-bit hash columns (integer indexes), the text kept beside them.

CREATE TABLE sites (
    id               INTEGER PRIMARY KEY,
    ident_key        INTEGER NOT NULL UNIQUE,
    kind             INTEGER NOT NULL,
    identifier       TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    operator_entity  TEXT NOT NULL,
    icp_filing       TEXT NOT NULL,
    region           TEXT NOT NULL,
    status           INTEGER NOT NULL,
    due_us           INTEGER,
    notice_action_id INTEGER,
    first_action_us  INTEGER,
    last_action_us   INTEGER,
    action_count     INTEGER NOT NULL,
    revision         INTEGER NOT NULL
);
CREATE INDEX sites_by_due ON sites (status, due_us);

CREATE TABLE site_actions (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id),
    request_key     INTEGER NOT NULL UNIQUE,
    request_id      TEXT NOT NULL,
    body_hash       INTEGER NOT NULL,
    action          INTEGER NOT NULL,
    category        TEXT NOT NULL,
    department      TEXT NOT NULL,
    region          TEXT NOT NULL,
    campaign_id     TEXT NOT NULL,
    special_action  TEXT NOT NULL,
    case_ref        TEXT NOT NULL,
    actor           TEXT NOT NULL,
    effective_us    INTEGER NOT NULL,
    due_us          INTEGER,
    problems        TEXT NOT NULL,
    notice_batch_id INTEGER NOT NULL,
    record_us       INTEGER NOT NULL,
    retracted_us    INTEGER,
    retract_reason  TEXT NOT NULL DEFAULT '',
    retracted_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX site_actions_by_site ON site_actions (site_id, id);

CREATE TABLE notice_batches (
    id             INTEGER PRIMARY KEY,
    title          TEXT NOT NULL,
    department     TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL,
    due_us         INTEGER NOT NULL,
    state          INTEGER NOT NULL,
    entry_count    INTEGER NOT NULL,
    create_us      INTEGER NOT NULL,
    publish_us     INTEGER,
    revision       INTEGER NOT NULL
);

CREATE TABLE notice_entries (
    batch_id        INTEGER NOT NULL REFERENCES notice_batches (id),
    seq             INTEGER NOT NULL,
    kind            INTEGER NOT NULL,
    identifier      TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    operator_entity TEXT NOT NULL,
    icp_filing      TEXT NOT NULL,
    region          TEXT NOT NULL,
    problems        TEXT NOT NULL,
    PRIMARY KEY (batch_id, seq)
) WITHOUT ROWID;

CREATE TABLE dispositions (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id),
    request_key     INTEGER NOT NULL UNIQUE,
    request_id      TEXT NOT NULL,
    body_hash       INTEGER NOT NULL,
    locator         TEXT NOT NULL,
    content_key     INTEGER NOT NULL,
    content_sha256  TEXT NOT NULL,
    perceptual_hash TEXT NOT NULL,
    category        TEXT NOT NULL,
    measure         INTEGER NOT NULL,
    handler         INTEGER NOT NULL,
    department      TEXT NOT NULL,
    campaign_id     TEXT NOT NULL,
    special_action  TEXT NOT NULL,
    actor           TEXT NOT NULL,
    effective_us    INTEGER NOT NULL,
    record_us       INTEGER NOT NULL
);
CREATE INDEX dispositions_by_content ON dispositions (content_key, id);
CREATE INDEX dispositions_by_phash ON dispositions (perceptual_hash, id) WHERE perceptual_hash != '';
