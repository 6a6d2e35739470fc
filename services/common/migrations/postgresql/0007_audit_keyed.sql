-- The audit chain keyed (HMAC-SHA256 under the audit key) from the next entry on; entries
-- already written stay plain sha256 links. Each entry commits to the rows its write produced.

ALTER TABLE audit_log ADD COLUMN data TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN data_hash TEXT COLLATE "C" NOT NULL DEFAULT '';

-- keyed_seal: an HMAC of keyed_from, made at the first start with the key, so that moving
-- where the keyed chain starts (to pass rewritten entries off as plain ones) is detected.
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_head ADD COLUMN keyed_seal TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE audit_head SET keyed_from = seq + 1;
