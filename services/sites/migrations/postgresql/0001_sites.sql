-- Sites and apps, their actions, notice batches, and content dispositions. Natural keys are
-- looked up through 64-bit hash columns (integer indexes), the text kept beside them.

CREATE TABLE sites (
    id               BIGINT PRIMARY KEY,
    ident_key        BIGINT NOT NULL UNIQUE,
    kind             BIGINT NOT NULL,
    identifier       TEXT COLLATE "C" NOT NULL,
    display_name     TEXT COLLATE "C" NOT NULL,
    operator_entity  TEXT COLLATE "C" NOT NULL,
    icp_filing       TEXT COLLATE "C" NOT NULL,
    region           TEXT COLLATE "C" NOT NULL,
    status           BIGINT NOT NULL,
    due_us           BIGINT,
    notice_action_id BIGINT,
    first_action_us  BIGINT,
    last_action_us   BIGINT,
    action_count     BIGINT NOT NULL,
    revision         BIGINT NOT NULL
);
CREATE INDEX sites_by_due ON sites (status, due_us);

CREATE TABLE site_actions (
    id              BIGINT PRIMARY KEY,
    site_id         BIGINT NOT NULL REFERENCES sites (id),
    request_key     BIGINT NOT NULL UNIQUE,
    request_id      TEXT COLLATE "C" NOT NULL,
    body_hash       BIGINT NOT NULL,
    action          BIGINT NOT NULL,
    category        TEXT COLLATE "C" NOT NULL,
    department      TEXT COLLATE "C" NOT NULL,
    region          TEXT COLLATE "C" NOT NULL,
    campaign_id     TEXT COLLATE "C" NOT NULL,
    special_action  TEXT COLLATE "C" NOT NULL,
    case_ref        TEXT COLLATE "C" NOT NULL,
    actor           TEXT COLLATE "C" NOT NULL,
    effective_us    BIGINT NOT NULL,
    due_us          BIGINT,
    problems        TEXT COLLATE "C" NOT NULL,
    notice_batch_id BIGINT NOT NULL,
    record_us       BIGINT NOT NULL,
    retracted_us    BIGINT,
    retract_reason  TEXT COLLATE "C" NOT NULL DEFAULT '',
    retracted_by    TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX site_actions_by_site ON site_actions (site_id, id);

CREATE TABLE notice_batches (
    id             BIGINT PRIMARY KEY,
    title          TEXT COLLATE "C" NOT NULL,
    department     TEXT COLLATE "C" NOT NULL,
    category       TEXT COLLATE "C" NOT NULL,
    campaign_id    TEXT COLLATE "C" NOT NULL,
    special_action TEXT COLLATE "C" NOT NULL,
    due_us         BIGINT NOT NULL,
    state          BIGINT NOT NULL,
    entry_count    BIGINT NOT NULL,
    create_us      BIGINT NOT NULL,
    publish_us     BIGINT,
    revision       BIGINT NOT NULL
);

CREATE TABLE notice_entries (
    batch_id        BIGINT NOT NULL REFERENCES notice_batches (id),
    seq             BIGINT NOT NULL,
    kind            BIGINT NOT NULL,
    identifier      TEXT COLLATE "C" NOT NULL,
    display_name    TEXT COLLATE "C" NOT NULL,
    operator_entity TEXT COLLATE "C" NOT NULL,
    icp_filing      TEXT COLLATE "C" NOT NULL,
    region          TEXT COLLATE "C" NOT NULL,
    problems        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (batch_id, seq)
);

CREATE TABLE dispositions (
    id              BIGINT PRIMARY KEY,
    site_id         BIGINT NOT NULL REFERENCES sites (id),
    request_key     BIGINT NOT NULL UNIQUE,
    request_id      TEXT COLLATE "C" NOT NULL,
    body_hash       BIGINT NOT NULL,
    locator         TEXT COLLATE "C" NOT NULL,
    content_key     BIGINT NOT NULL,
    content_sha256  TEXT COLLATE "C" NOT NULL,
    perceptual_hash TEXT COLLATE "C" NOT NULL,
    category        TEXT COLLATE "C" NOT NULL,
    measure         BIGINT NOT NULL,
    handler         BIGINT NOT NULL,
    department      TEXT COLLATE "C" NOT NULL,
    campaign_id     TEXT COLLATE "C" NOT NULL,
    special_action  TEXT COLLATE "C" NOT NULL,
    actor           TEXT COLLATE "C" NOT NULL,
    effective_us    BIGINT NOT NULL,
    record_us       BIGINT NOT NULL
);
CREATE INDEX dispositions_by_content ON dispositions (content_key, id);
CREATE INDEX dispositions_by_phash ON dispositions (perceptual_hash, id) WHERE perceptual_hash != '';
