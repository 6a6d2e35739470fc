-- Groups are counted apart from accounts (GetStats subjects ACCOUNTS and GROUPS): the
-- group_actions rollup is counted from the live actions on groups at the next start.

INSERT INTO rollup_rebuilds VALUES ('group_actions') ON CONFLICT DO NOTHING;
