-- Sites banned or closed, each once (GetStats subject BANS_AND_CLOSURES): the bans_closures
-- rollup is counted from the live ban and close actions at the next start.

INSERT INTO rollup_rebuilds VALUES ('bans_closures') ON CONFLICT DO NOTHING;
