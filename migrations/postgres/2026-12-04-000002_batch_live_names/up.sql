-- A live token's name stays unique per owner and kind (see 2026-11-24-000003),
-- now checked once per statement instead of once per row.
--
-- Why: the row trigger's check was planned once per connection and that plan
-- kept. Planned while `tokens` was nearly empty, it walked `tokens_created`
-- (whose third column is `kind`) instead of `tokens_owner`, so every insert
-- read every live token of its kind: a seed of 20,000 tokens took 25 s, and a
-- long-lived server connection would have kept that plan too. A row trigger
-- also stops COPY from inserting rows many at a time.
--
-- Now one trigger per INSERT or COPY statement:
--   1. locks the owners of its new live rows, in id order, so that two
--      statements for overlapping owners queue instead of deadlocking;
--   2. then looks for a live row of the same owner, kind and name_key other
--      than the new row itself, which also catches two clashing rows of one
--      statement.
-- Exactness: in READ COMMITTED every statement of the function takes a fresh
-- snapshot, so a creator that waited in step 1 for another's lock sees that
-- one's committed row in step 2 and fails with unique_violation (what
-- `db::is_unique_violation` recognises), as the row trigger did.
-- The lock is FOR NO KEY UPDATE, not FOR UPDATE: the statement's foreign-key
-- checks have already taken FOR KEY SHARE on the owner's row (they run before
-- an AFTER STATEMENT trigger), and FOR UPDATE conflicts with another creator's
-- FOR KEY SHARE, so two concurrent creations for one owner would deadlock.
-- FOR NO KEY UPDATE conflicts with itself only (and with updates of the row).
--
-- Both queries are EXECUTEd, so planned afresh for each statement with the
-- table's current size and the number of new rows: a kept plan is what made
-- the row trigger slow. Planning costs tens of microseconds.
-- Its twin in ../../sqlite keeps SQLite's row trigger (one writer at a time).
DROP TRIGGER tokens_live_name_unique ON tokens;
DROP FUNCTION tokens_live_name_unique();

CREATE FUNCTION tokens_live_names_unique() RETURNS trigger AS $$
DECLARE
    clash BOOLEAN;
BEGIN
    EXECUTE $q$
        SELECT 1 FROM users
        WHERE id IN (
            SELECT owner_id FROM new_rows WHERE kind <> 'session' AND revoked_at IS NULL
        )
        ORDER BY id
        FOR NO KEY UPDATE
    $q$;
    EXECUTE $q$
        SELECT EXISTS (
            SELECT 1 FROM new_rows n
            JOIN tokens t
              ON t.owner_id = n.owner_id AND t.kind = n.kind AND t.name_key = n.name_key
            WHERE n.kind <> 'session' AND n.revoked_at IS NULL
              AND t.revoked_at IS NULL AND t.id <> n.id
        )
    $q$ INTO clash;
    IF clash THEN
        RAISE EXCEPTION 'live token name taken' USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tokens_live_names_unique AFTER INSERT ON tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_live_names_unique();
