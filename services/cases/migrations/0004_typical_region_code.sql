-- Where a typical case happened, as a code: its case's lead region when it was written, so a
-- release names the place in its own language (reference data). Those written before take
-- their case's lead region as it is now.
ALTER TABLE typical_cases ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE typical_cases
SET region_code = (SELECT lead_region FROM cases WHERE cases.id = typical_cases.case_id);
