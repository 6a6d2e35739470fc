-- Rollup keys by number: the two tables that take a row per record (counts per day, and the
-- marks of each subject) name a key by its id instead of repeating six texts in every row and
-- index entry. A key's id is hash64 of its rollup and dimension values, joined by U+001F, so
-- a writer computes it without a look-up; rollup_keys maps the ids back for queries.

CREATE TABLE rollup_keys (
    id             BIGINT PRIMARY KEY,
    rollup         TEXT COLLATE "C" NOT NULL,
    department     TEXT COLLATE "C" NOT NULL,
    action         TEXT COLLATE "C" NOT NULL,
    category       TEXT COLLATE "C" NOT NULL,
    campaign_id    TEXT COLLATE "C" NOT NULL,
    special_action TEXT COLLATE "C" NOT NULL
);

-- The SQLite step fills rollup_keys from the old tables with hash64(...), an application SQL
-- function PostgreSQL lacks: left out, a PostgreSQL store starts empty (no rows to move).

CREATE TABLE rollup_key_days (
    key_id BIGINT NOT NULL,
    day    TEXT COLLATE "C" NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);

INSERT INTO rollup_key_days
SELECT k.id, c.day, c.n
FROM rollup_counts c
JOIN rollup_keys k USING (rollup, department, action, category, campaign_id, special_action);

DROP TABLE rollup_counts;

ALTER TABLE rollup_key_days RENAME TO rollup_counts;
-- PostgreSQL keeps the old constraint name on a rename: give it the table's new name.
ALTER TABLE rollup_counts RENAME CONSTRAINT rollup_key_days_pkey TO rollup_counts_pkey;

CREATE TABLE rollup_subject_keys (
    subject_id BIGINT NOT NULL,
    key_id     BIGINT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (subject_id, key_id)
);

INSERT INTO rollup_subject_keys
SELECT m.subject_id, k.id, m.n
FROM rollup_marks m
JOIN rollup_keys k USING (rollup, department, action, category, campaign_id, special_action);

DROP TABLE rollup_marks;

ALTER TABLE rollup_subject_keys RENAME TO rollup_marks;
ALTER TABLE rollup_marks RENAME CONSTRAINT rollup_subject_keys_pkey TO rollup_marks_pkey;
