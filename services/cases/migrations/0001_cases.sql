-- Campaigns, clues and hand-overs, cases with their timeline, parties, typical cases.
-- Lists inside a record (departments, categories, facts) are JSON: read whole, never queried.

CREATE TABLE campaigns (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    start_us        INTEGER NOT NULL,
    end_us          INTEGER NOT NULL,
    lead_department TEXT NOT NULL,
    participating   TEXT NOT NULL,
    special_actions TEXT NOT NULL,
    create_us       INTEGER NOT NULL,
    update_us       INTEGER NOT NULL,
    revision        INTEGER NOT NULL
);

CREATE TABLE cases (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL,
    title           TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    lead_department TEXT NOT NULL,
    lead_region     TEXT NOT NULL,
    assisting       TEXT NOT NULL,
    provinces       TEXT NOT NULL,
    campaign_id     TEXT NOT NULL,
    special_action  TEXT NOT NULL,
    categories      TEXT NOT NULL,
    state           INTEGER NOT NULL,
    facts           TEXT NOT NULL,
    linked          TEXT NOT NULL,
    create_us       INTEGER NOT NULL,
    update_us       INTEGER NOT NULL,
    revision        INTEGER NOT NULL
);
CREATE INDEX cases_by_number ON cases (number);

CREATE TABLE case_events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    kind       INTEGER NOT NULL,
    time_us    INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    department TEXT NOT NULL,
    detail     TEXT NOT NULL,
    fields     TEXT NOT NULL,
    from_state INTEGER NOT NULL,
    to_state   INTEGER NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, id);

CREATE TABLE clues (
    id                INTEGER PRIMARY KEY,
    source            INTEGER NOT NULL,
    summary           TEXT NOT NULL,
    holder_department TEXT NOT NULL,
    holder_region     TEXT NOT NULL,
    category          TEXT NOT NULL,
    campaign_id       TEXT NOT NULL,
    special_action    TEXT NOT NULL,
    state             INTEGER NOT NULL,
    case_id           INTEGER REFERENCES cases (id),
    create_us         INTEGER NOT NULL,
    revision          INTEGER NOT NULL
);

CREATE TABLE handovers (
    id              INTEGER PRIMARY KEY,
    clue_id         INTEGER NOT NULL REFERENCES clues (id),
    from_department TEXT NOT NULL,
    from_region     TEXT NOT NULL,
    to_department   TEXT NOT NULL,
    to_region       TEXT NOT NULL,
    note            TEXT NOT NULL,
    state           INTEGER NOT NULL,
    sent_us         INTEGER NOT NULL,
    sent_by         TEXT NOT NULL,
    ack_us          INTEGER,
    ack_by          TEXT NOT NULL,
    resolve_us      INTEGER,
    resolved_by     TEXT NOT NULL,
    case_id         INTEGER REFERENCES cases (id),
    return_reasons  TEXT NOT NULL
);
CREATE INDEX handovers_by_clue ON handovers (clue_id, id);
CREATE INDEX handovers_to ON handovers (to_department, state, id);
CREATE INDEX handovers_from ON handovers (from_department, state, id);

CREATE TABLE parties (
    id                INTEGER PRIMARY KEY,
    case_id           INTEGER NOT NULL REFERENCES cases (id),
    kind              INTEGER NOT NULL,
    real_name         TEXT NOT NULL,
    masked_name       TEXT NOT NULL,
    role              TEXT NOT NULL,
    sentence_months   INTEGER,
    sentence_fine_fen INTEGER NOT NULL,
    sentence_us       INTEGER
);
CREATE INDEX parties_by_case ON parties (case_id, id);

CREATE TABLE party_measures (
    id         INTEGER PRIMARY KEY,
    party_id   INTEGER NOT NULL REFERENCES parties (id),
    measure    INTEGER NOT NULL,
    time_us    INTEGER NOT NULL,
    department TEXT NOT NULL
);
CREATE INDEX party_measures_by_party ON party_measures (party_id, id);

CREATE TABLE typical_cases (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    campaign_id  TEXT NOT NULL,
    title        TEXT NOT NULL,
    region       TEXT NOT NULL,
    summary      TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    publish_us   INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    department   TEXT NOT NULL
);
CREATE INDEX typical_cases_by_campaign ON typical_cases (campaign_id, id);
