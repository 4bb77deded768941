DROP TRIGGER tokens_validity_epoch_update;
CREATE TRIGGER tokens_validity_epoch_update AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
    user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
    revoked_at, revoked_by ON tokens
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
ALTER TABLE settings DROP COLUMN max_overlap_hours;
ALTER TABLE settings DROP COLUMN show_api_tokens;
ALTER TABLE settings DROP COLUMN show_clients;
DROP INDEX tokens_previous_sha256;
ALTER TABLE tokens DROP COLUMN previous_last_used_at;
ALTER TABLE tokens DROP COLUMN previous_valid_until;
ALTER TABLE tokens DROP COLUMN previous_sha256;
ALTER TABLE tokens DROP COLUMN sealed_secret;
