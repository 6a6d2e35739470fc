-- Rollups to recount from the records at the next start (services.common.rollups
-- rebuild_marked): a service's migration inserts the name of a rollup that is new to a store
-- already holding records, or whose keys changed; the start rebuilds it and removes the row.

CREATE TABLE rollup_rebuilds (
    rollup TEXT COLLATE "C" PRIMARY KEY
);
