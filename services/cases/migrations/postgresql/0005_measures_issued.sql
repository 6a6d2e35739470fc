-- What departments issued or carried out in a campaign (a notice, measures, an inspection):
-- reported in words by the release. Append-only; campaign_id is the campaign's slug.
CREATE TABLE measures_issued (
    id             BIGINT PRIMARY KEY,
    campaign_id    TEXT COLLATE "C" NOT NULL,
    department     TEXT COLLATE "C" NOT NULL,
    kind           BIGINT NOT NULL,
    title          TEXT COLLATE "C" NOT NULL,
    issue_us       BIGINT NOT NULL,
    special_action TEXT COLLATE "C" NOT NULL,
    recorded_by    TEXT COLLATE "C" NOT NULL,
    create_us      BIGINT NOT NULL
);
CREATE INDEX measures_issued_by_campaign ON measures_issued (campaign_id, id);
