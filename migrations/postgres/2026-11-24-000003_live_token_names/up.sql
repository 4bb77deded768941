-- A live token's name stays unique per owner and kind, whatever the case and
-- whatever the letters, but a trigger checks it instead of a partial unique index.
--
-- Letters: PostgreSQL's lower() depends on the database's locale and SQLite's
-- folds ASCII only, so the application stores the folded name in `name_key`
-- (Rust's to_lowercase of the trimmed name) and the check compares that: both
-- backends agree. Existing rows get lower(name), which is what the old index
-- compared.
--
-- Trigger: the index had to lose an entry at a random place for every revoked
-- token (owners are scattered), which made up half of the pages a bulk revoke
-- wrote; the check reads the owner's tokens of that name through `tokens_owner`, which
-- a revoke leaves alone. Locking the owner's row first makes two concurrent
-- creations for one owner take turns, so the second sees the first. A clash is a
-- unique_violation, as the index's was. Its twin in ../../sqlite does the same.
ALTER TABLE tokens ADD COLUMN name_key TEXT;
UPDATE tokens SET name_key = lower(name);
ALTER TABLE tokens ALTER COLUMN name_key SET NOT NULL;
DROP INDEX tokens_owner_kind_name;
-- The check finds the owner's live tokens of that name through this index (not
-- partial, so a revoke leaves it alone); ordered by created_at it made every
-- insert read all of the owner's tokens, which an owner with thousands felt.
DROP INDEX tokens_owner;
CREATE INDEX tokens_owner ON tokens (owner_id, kind, name_key);
CREATE FUNCTION tokens_live_name_unique() RETURNS trigger AS $$
BEGIN
    IF NEW.kind <> 'session' AND NEW.revoked_at IS NULL THEN
        PERFORM 1 FROM users WHERE id = NEW.owner_id FOR UPDATE;
        IF EXISTS (
            SELECT 1 FROM tokens
            WHERE owner_id = NEW.owner_id AND kind = NEW.kind AND revoked_at IS NULL
              AND name_key = NEW.name_key
        ) THEN
            RAISE EXCEPTION 'live token name taken' USING ERRCODE = 'unique_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_live_name_unique BEFORE INSERT ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_live_name_unique();
