-- Revoked tokens: one token by its jti, or every token of an operator issued at or before
-- a cut-off. Each server reads both tables about once a second into memory (replicas share
-- them) and checks every call against them there.
CREATE TABLE revoked_tokens (
    jti        TEXT COLLATE "C" PRIMARY KEY,
    revoked_us BIGINT NOT NULL
);

CREATE TABLE revoked_operators (
    operator         TEXT COLLATE "C" PRIMARY KEY,
    issued_before_us BIGINT NOT NULL,
    revoked_us       BIGINT NOT NULL
);

-- The token (jti) each audit entry's change was made with; '' for entries before this.
ALTER TABLE audit_log ADD COLUMN token_id TEXT COLLATE "C" NOT NULL DEFAULT '';
