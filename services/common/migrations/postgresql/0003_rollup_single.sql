-- Distinct subjects, cheaper to keep: a subject with one live key (nearly all of them) is
-- counted once, by its key, in rollup_single; rollup_distinct keeps the projections (one row
-- per subset of the dimensions) of subjects with several live keys only. A distinct count
-- sums both: the single rows whose key falls under the projection, and its own row.

CREATE TABLE rollup_single (
    rollup         TEXT COLLATE "C" NOT NULL,
    department     TEXT COLLATE "C" NOT NULL,
    action         TEXT COLLATE "C" NOT NULL,
    category       TEXT COLLATE "C" NOT NULL,
    campaign_id    TEXT COLLATE "C" NOT NULL,
    special_action TEXT COLLATE "C" NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (rollup, department, action, category, campaign_id, special_action)
);

INSERT INTO rollup_single
SELECT rollup, department, action, category, campaign_id, special_action, COUNT(*)
FROM rollup_marks
WHERE (rollup, subject_id) IN (
    SELECT rollup, subject_id FROM rollup_marks GROUP BY rollup, subject_id HAVING COUNT(*) = 1
)
GROUP BY rollup, department, action, category, campaign_id, special_action;

DELETE FROM rollup_distinct;

WITH RECURSIVE masks (m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM masks WHERE m < 31),
multi AS (
    SELECT rollup, subject_id FROM rollup_marks GROUP BY rollup, subject_id HAVING COUNT(*) > 1
)
INSERT INTO rollup_distinct
SELECT rollup, d0, d1, d2, d3, d4, COUNT(DISTINCT subject_id)
FROM (
    SELECT k.rollup, k.subject_id,
        CASE WHEN m & 1 <> 0 THEN k.department ELSE '*' END AS d0,
        CASE WHEN m & 2 <> 0 THEN k.action ELSE '*' END AS d1,
        CASE WHEN m & 4 <> 0 THEN k.category ELSE '*' END AS d2,
        CASE WHEN m & 8 <> 0 THEN k.campaign_id ELSE '*' END AS d3,
        CASE WHEN m & 16 <> 0 THEN k.special_action ELSE '*' END AS d4
    FROM rollup_marks k JOIN multi USING (rollup, subject_id), masks
) AS projected
GROUP BY rollup, d0, d1, d2, d3, d4;
