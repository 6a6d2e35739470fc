-- Campaigns, clues and hand-overs, cases with their timeline, parties, typical cases.
-- Lists inside a record (departments, categories, facts) are JSON: read whole, never queried.

CREATE TABLE campaigns (
    id              BIGINT PRIMARY KEY,
    slug            TEXT COLLATE "C" NOT NULL UNIQUE,
    title           TEXT COLLATE "C" NOT NULL,
    start_us        BIGINT NOT NULL,
    end_us          BIGINT NOT NULL,
    lead_department TEXT COLLATE "C" NOT NULL,
    participating   TEXT COLLATE "C" NOT NULL,
    special_actions TEXT COLLATE "C" NOT NULL,
    create_us       BIGINT NOT NULL,
    update_us       BIGINT NOT NULL,
    revision        BIGINT NOT NULL
);

CREATE TABLE cases (
    id              BIGINT PRIMARY KEY,
    number          TEXT COLLATE "C" NOT NULL,
    title           TEXT COLLATE "C" NOT NULL,
    kind            BIGINT NOT NULL,
    lead_department TEXT COLLATE "C" NOT NULL,
    lead_region     TEXT COLLATE "C" NOT NULL,
    assisting       TEXT COLLATE "C" NOT NULL,
    provinces       TEXT COLLATE "C" NOT NULL,
    campaign_id     TEXT COLLATE "C" NOT NULL,
    special_action  TEXT COLLATE "C" NOT NULL,
    categories      TEXT COLLATE "C" NOT NULL,
    state           BIGINT NOT NULL,
    facts           TEXT COLLATE "C" NOT NULL,
    linked          TEXT COLLATE "C" NOT NULL,
    create_us       BIGINT NOT NULL,
    update_us       BIGINT NOT NULL,
    revision        BIGINT NOT NULL
);
CREATE INDEX cases_by_number ON cases (number);

CREATE TABLE case_events (
    id         BIGINT PRIMARY KEY,
    case_id    BIGINT NOT NULL REFERENCES cases (id),
    kind       BIGINT NOT NULL,
    time_us    BIGINT NOT NULL,
    actor      TEXT COLLATE "C" NOT NULL,
    department TEXT COLLATE "C" NOT NULL,
    detail     TEXT COLLATE "C" NOT NULL,
    fields     TEXT COLLATE "C" NOT NULL,
    from_state BIGINT NOT NULL,
    to_state   BIGINT NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, id);

CREATE TABLE clues (
    id                BIGINT PRIMARY KEY,
    source            BIGINT NOT NULL,
    summary           TEXT COLLATE "C" NOT NULL,
    holder_department TEXT COLLATE "C" NOT NULL,
    holder_region     TEXT COLLATE "C" NOT NULL,
    category          TEXT COLLATE "C" NOT NULL,
    campaign_id       TEXT COLLATE "C" NOT NULL,
    special_action    TEXT COLLATE "C" NOT NULL,
    state             BIGINT NOT NULL,
    case_id           BIGINT REFERENCES cases (id),
    create_us         BIGINT NOT NULL,
    revision          BIGINT NOT NULL
);

CREATE TABLE handovers (
    id              BIGINT PRIMARY KEY,
    clue_id         BIGINT NOT NULL REFERENCES clues (id),
    from_department TEXT COLLATE "C" NOT NULL,
    from_region     TEXT COLLATE "C" NOT NULL,
    to_department   TEXT COLLATE "C" NOT NULL,
    to_region       TEXT COLLATE "C" NOT NULL,
    note            TEXT COLLATE "C" NOT NULL,
    state           BIGINT NOT NULL,
    sent_us         BIGINT NOT NULL,
    sent_by         TEXT COLLATE "C" NOT NULL,
    ack_us          BIGINT,
    ack_by          TEXT COLLATE "C" NOT NULL,
    resolve_us      BIGINT,
    resolved_by     TEXT COLLATE "C" NOT NULL,
    case_id         BIGINT REFERENCES cases (id),
    return_reasons  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX handovers_by_clue ON handovers (clue_id, id);
CREATE INDEX handovers_to ON handovers (to_department, state, id);
CREATE INDEX handovers_from ON handovers (from_department, state, id);

CREATE TABLE parties (
    id                BIGINT PRIMARY KEY,
    case_id           BIGINT NOT NULL REFERENCES cases (id),
    kind              BIGINT NOT NULL,
    real_name         TEXT COLLATE "C" NOT NULL,
    masked_name       TEXT COLLATE "C" NOT NULL,
    role              TEXT COLLATE "C" NOT NULL,
    sentence_months   BIGINT,
    sentence_fine_fen BIGINT NOT NULL,
    sentence_us       BIGINT
);
CREATE INDEX parties_by_case ON parties (case_id, id);

CREATE TABLE party_measures (
    id         BIGINT PRIMARY KEY,
    party_id   BIGINT NOT NULL REFERENCES parties (id),
    measure    BIGINT NOT NULL,
    time_us    BIGINT NOT NULL,
    department TEXT COLLATE "C" NOT NULL
);
CREATE INDEX party_measures_by_party ON party_measures (party_id, id);

CREATE TABLE typical_cases (
    id           BIGINT PRIMARY KEY,
    case_id      BIGINT NOT NULL REFERENCES cases (id),
    campaign_id  TEXT COLLATE "C" NOT NULL,
    title        TEXT COLLATE "C" NOT NULL,
    region       TEXT COLLATE "C" NOT NULL,
    summary      TEXT COLLATE "C" NOT NULL,
    outcome      TEXT COLLATE "C" NOT NULL,
    publish_us   BIGINT NOT NULL,
    published_by TEXT COLLATE "C" NOT NULL,
    department   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX typical_cases_by_campaign ON typical_cases (campaign_id, id);
