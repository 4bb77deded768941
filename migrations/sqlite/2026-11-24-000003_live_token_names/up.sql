-- A live token's name stays unique per owner and kind (any case), as before,
-- but a trigger checks it instead of a partial unique index. That index had
-- to lose an entry at a random place for every revoked token (owners are
-- scattered), which made up half of the pages a bulk revoke wrote; the check
-- reads the owner's few tokens through `tokens_owner`, which a revoke leaves
-- alone. SQLite has one writer at a time, so the check cannot race. The
-- message is what `db::is_unique_violation` recognises.
-- Its twin in ../../postgres does the same.
DROP INDEX tokens_owner_kind_name;
CREATE TRIGGER tokens_live_name_unique BEFORE INSERT ON tokens
WHEN NEW.kind <> 'session' AND NEW.revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM tokens
    WHERE owner_id = NEW.owner_id AND kind = NEW.kind AND revoked_at IS NULL
      AND lower(name) = lower(NEW.name)
)
BEGIN
    SELECT RAISE(ABORT, 'live token name taken');
END;
