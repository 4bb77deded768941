DROP TRIGGER tokens_live_name_unique;
CREATE UNIQUE INDEX tokens_owner_kind_name ON tokens (owner_id, kind, lower(name))
    WHERE revoked_at IS NULL AND kind <> 'session';
ALTER TABLE tokens DROP COLUMN name_key;
