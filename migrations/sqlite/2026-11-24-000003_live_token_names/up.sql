-- A live token's name stays unique per owner and kind, whatever the case and
-- whatever the letters, but a trigger checks it instead of a partial unique index.
--
-- Letters: SQLite's lower() folds ASCII only ("Ärger" and "ärger" both passed), so
-- the application stores the folded name in `name_key` (Rust's to_lowercase of the
-- trimmed name) and the check compares that. Existing rows get lower(name), which
-- is what the old index compared. (SQLite cannot add a NOT NULL column without a
-- default; every insert gives one.)
--
-- Trigger: the index had to lose an entry at a random place for every revoked
-- token (owners are scattered), which made up half of the pages a bulk revoke
-- wrote; the check reads the owner's tokens of that name through `tokens_owner`, which
-- a revoke leaves alone. SQLite has one writer at a time, so the check cannot race.
-- The message is what `db::is_unique_violation` recognises.
-- Its twin in ../../postgres does the same.
ALTER TABLE tokens ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE tokens SET name_key = lower(name);
DROP INDEX tokens_owner_kind_name;
-- The check finds the owner's live tokens of that name through this index (not
-- partial, so a revoke leaves it alone); ordered by created_at it made every
-- insert read all of the owner's tokens, which an owner with thousands felt.
DROP INDEX tokens_owner;
CREATE INDEX tokens_owner ON tokens (owner_id, kind, name_key);
CREATE TRIGGER tokens_live_name_unique BEFORE INSERT ON tokens
WHEN NEW.kind <> 'session' AND NEW.revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM tokens
    WHERE owner_id = NEW.owner_id AND kind = NEW.kind AND revoked_at IS NULL
      AND name_key = NEW.name_key
)
BEGIN
    SELECT RAISE(ABORT, 'live token name taken');
END;
