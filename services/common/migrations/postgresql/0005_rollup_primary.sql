-- Distinct subjects by primary key: every subject is counted once under the least of its
-- live keys (rollup_single, which so far counted only subjects with one key), and one with
-- several keys under each projection of its other keys that the primary key's projections
-- do not cover (rollup_distinct, which so far took every projection of all its keys). A
-- second key costs about half the counters it did. Both are rebuilt from the marks.

DELETE FROM rollup_single;

WITH keyed AS (
    SELECT k.rollup, k.department, k.action, k.category, k.campaign_id, k.special_action,
        ROW_NUMBER() OVER (
            PARTITION BY k.rollup, m.subject_id
            ORDER BY k.department, k.action, k.category, k.campaign_id, k.special_action
        ) AS r
    FROM rollup_marks m JOIN rollup_keys k ON k.id = m.key_id
)
INSERT INTO rollup_single
SELECT rollup, department, action, category, campaign_id, special_action, COUNT(*)
FROM keyed
WHERE r = 1
GROUP BY rollup, department, action, category, campaign_id, special_action;

DELETE FROM rollup_distinct;

WITH RECURSIVE masks (m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM masks WHERE m < 31),
keyed AS (
    SELECT k.rollup, m.subject_id, k.department, k.action, k.category, k.campaign_id,
        k.special_action,
        ROW_NUMBER() OVER (
            PARTITION BY k.rollup, m.subject_id
            ORDER BY k.department, k.action, k.category, k.campaign_id, k.special_action
        ) AS r,
        COUNT(*) OVER (PARTITION BY k.rollup, m.subject_id) AS keys
    FROM rollup_marks m JOIN rollup_keys k ON k.id = m.key_id
),
projected AS (
    SELECT rollup, subject_id, r,
        CASE WHEN m & 1 <> 0 THEN department ELSE '*' END AS d0,
        CASE WHEN m & 2 <> 0 THEN action ELSE '*' END AS d1,
        CASE WHEN m & 4 <> 0 THEN category ELSE '*' END AS d2,
        CASE WHEN m & 8 <> 0 THEN campaign_id ELSE '*' END AS d3,
        CASE WHEN m & 16 <> 0 THEN special_action ELSE '*' END AS d4
    FROM keyed, masks
    WHERE keys > 1
)
INSERT INTO rollup_distinct
SELECT rollup, d0, d1, d2, d3, d4, COUNT(*)
FROM (
    SELECT rollup, subject_id, d0, d1, d2, d3, d4 FROM projected WHERE r > 1
    EXCEPT
    SELECT rollup, subject_id, d0, d1, d2, d3, d4 FROM projected WHERE r = 1
) AS uncovered
GROUP BY rollup, d0, d1, d2, d3, d4;
