-- Show and regenerate with an overlap (SPEC §7); see the twin in ../../postgres.
ALTER TABLE tokens ADD COLUMN sealed_secret BLOB;
ALTER TABLE tokens ADD COLUMN previous_sha256 BLOB;
ALTER TABLE tokens ADD COLUMN previous_valid_until TIMESTAMP;
ALTER TABLE tokens ADD COLUMN previous_last_used_at TIMESTAMP;
CREATE UNIQUE INDEX tokens_previous_sha256 ON tokens (previous_sha256)
    WHERE previous_sha256 IS NOT NULL;

ALTER TABLE settings ADD COLUMN show_clients BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE settings ADD COLUMN show_api_tokens BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE settings ADD COLUMN max_overlap_hours INTEGER NOT NULL DEFAULT 168;

DROP TRIGGER tokens_validity_epoch_update;
CREATE TRIGGER tokens_validity_epoch_update AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
    user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
    revoked_at, revoked_by, previous_sha256, previous_valid_until ON tokens
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
