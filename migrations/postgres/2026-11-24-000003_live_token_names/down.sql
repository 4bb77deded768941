DROP TRIGGER tokens_live_name_unique ON tokens;
DROP FUNCTION tokens_live_name_unique();
CREATE UNIQUE INDEX tokens_owner_kind_name ON tokens (owner_id, kind, lower(name))
    WHERE revoked_at IS NULL AND kind <> 'session';
DROP INDEX tokens_owner;
CREATE INDEX tokens_owner ON tokens (owner_id, kind, created_at);
ALTER TABLE tokens DROP COLUMN name_key;
