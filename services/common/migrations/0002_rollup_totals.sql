-- Counts without the day: what a query that neither groups nor filters by day reads, so its
-- cost follows the number of dimension combinations, not the days the records span.

CREATE TABLE rollup_totals (
    rollup         TEXT NOT NULL,
    department     TEXT NOT NULL,
    action         TEXT NOT NULL,
    category       TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    special_action TEXT NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (rollup, department, action, category, campaign_id, special_action)
) WITHOUT ROWID;

INSERT INTO rollup_totals
SELECT rollup, department, action, category, campaign_id, special_action, SUM(n)
FROM rollup_counts
GROUP BY rollup, department, action, category, campaign_id, special_action;
