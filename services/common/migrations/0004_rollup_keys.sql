-- Rollup keys by number: the two tables that take a row per record (counts per day, and the
-- marks of each subject) name a key by its id instead of repeating six texts in every row and
-- index entry. A key's id is hash64 of its rollup and dimension values, joined by U+001F, so
-- a writer computes it without a look-up; rollup_keys maps the ids back for queries.

CREATE TABLE rollup_keys (
    id             INTEGER PRIMARY KEY,
    rollup         TEXT NOT NULL,
    department     TEXT NOT NULL,
    action         TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL
);

INSERT OR IGNORE INTO rollup_keys
SELECT hash64(rollup || char(31) || department || char(31) || action || char(31) || category
              || char(31) || campaign_id || char(31) || special_action),
       rollup, department, action, category, campaign_id, special_action
FROM (
    SELECT rollup, department, action, category, campaign_id, special_action FROM rollup_counts
    UNION
    SELECT rollup, department, action, category, campaign_id, special_action FROM rollup_marks
);

CREATE TABLE rollup_key_days (
    key_id INTEGER NOT NULL,
    day    TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;

INSERT INTO rollup_key_days
SELECT k.id, c.day, c.n
FROM rollup_counts c
JOIN rollup_keys k USING (rollup, department, action, category, campaign_id, special_action);

DROP TABLE rollup_counts;

ALTER TABLE rollup_key_days RENAME TO rollup_counts;

CREATE TABLE rollup_subject_keys (
    subject_id INTEGER NOT NULL,
    key_id     INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (subject_id, key_id)
) WITHOUT ROWID;

INSERT INTO rollup_subject_keys
SELECT m.subject_id, k.id, m.n
FROM rollup_marks m
JOIN rollup_keys k USING (rollup, department, action, category, campaign_id, special_action);

DROP TABLE rollup_marks;

ALTER TABLE rollup_subject_keys RENAME TO rollup_marks;
