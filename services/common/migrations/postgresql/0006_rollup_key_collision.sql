-- A key's id is a 64-bit hash of its values: two keys with one id would add to each other's
-- counters. Writers upsert their keys with an UPDATE that runs only when the stored key under
-- the id is another key, and a key is never updated otherwise: this trigger turns that
-- update into the writing transaction's failure.

CREATE FUNCTION rollup_key_collision_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rollup key id collision: two keys hash to one id';
END
$$;

CREATE TRIGGER rollup_key_collision BEFORE UPDATE ON rollup_keys
FOR EACH ROW EXECUTE FUNCTION rollup_key_collision_fn();
