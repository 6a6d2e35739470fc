-- Typical-case drafts: the lead office vets a summary that the coordinating office publishes.
-- vetted_party_id is the case's last party when the text was vetted: a party added later
-- makes the draft stale (its name was not checked).
ALTER TABLE typical_cases ADD COLUMN state BIGINT NOT NULL DEFAULT 2;
ALTER TABLE typical_cases ADD COLUMN vetted_party_id BIGINT NOT NULL DEFAULT 0;
