-- What departments issued or carried out in a campaign (a notice, measures, an inspection):
-- reported in words by the release. Append-only; campaign_id is the campaign's slug.
CREATE TABLE measures_issued (
    id             INTEGER PRIMARY KEY,
    campaign_id    TEXT NOT NULL,
    department     TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    title          TEXT NOT NULL,
    issue_us       INTEGER NOT NULL,
    special_action TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    create_us      INTEGER NOT NULL
);
CREATE INDEX measures_issued_by_campaign ON measures_issued (campaign_id, id);
