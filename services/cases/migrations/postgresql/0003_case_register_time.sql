-- When a case was registered (given by its lead office, the creation time by default): what
-- its figures are dated by. Cases recorded before keep their creation time, so their figures
-- stay on the days they were counted under.
ALTER TABLE cases ADD COLUMN register_us BIGINT NOT NULL DEFAULT 0;
UPDATE cases SET register_us = create_us;
