-- Counts without the day: what a query that neither groups nor filters by day reads, so its
-- cost follows the number of dimension combinations, not the days the records span.

CREATE TABLE rollup_totals (
    rollup         TEXT COLLATE "C" NOT NULL,
    department     TEXT COLLATE "C" NOT NULL,
    action         TEXT COLLATE "C" NOT NULL,
    category       TEXT COLLATE "C" NOT NULL,
    campaign_id    TEXT COLLATE "C" NOT NULL,
    special_action TEXT COLLATE "C" NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (rollup, department, action, category, campaign_id, special_action)
);

INSERT INTO rollup_totals
SELECT rollup, department, action, category, campaign_id, special_action, SUM(n)
FROM rollup_counts
GROUP BY rollup, department, action, category, campaign_id, special_action;
