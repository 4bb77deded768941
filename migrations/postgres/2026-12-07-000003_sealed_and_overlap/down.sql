DROP TRIGGER tokens_validity_epoch ON tokens;
CREATE CONSTRAINT TRIGGER tokens_validity_epoch
    AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
        user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
        revoked_at, revoked_by
    OR DELETE ON tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
ALTER TABLE settings DROP COLUMN max_overlap_hours;
ALTER TABLE settings DROP COLUMN show_api_tokens;
ALTER TABLE settings DROP COLUMN show_clients;
DROP INDEX tokens_previous_sha256;
ALTER TABLE tokens DROP COLUMN previous_last_used_at;
ALTER TABLE tokens DROP COLUMN previous_valid_until;
ALTER TABLE tokens DROP COLUMN previous_sha256;
ALTER TABLE tokens DROP COLUMN sealed_secret;
