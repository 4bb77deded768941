-- Show and regenerate with an overlap (SPEC §7).
--
-- sealed_secret: the secret of a client or API token sealed under the key of
-- TESSERA_SECRET_KEY_FILE (never in the database), so that Show can give it
-- back; NULL for personal tokens, mobile sessions, and while Show is off.
-- previous_sha256 / previous_valid_until: after a regeneration with an
-- overlap, the hash of the secret it replaced and when that one stops
-- working; previous_last_used_at: its last use during the overlap.
ALTER TABLE tokens ADD COLUMN sealed_secret BYTEA;
ALTER TABLE tokens ADD COLUMN previous_sha256 BYTEA;
ALTER TABLE tokens ADD COLUMN previous_valid_until TIMESTAMP;
ALTER TABLE tokens ADD COLUMN previous_last_used_at TIMESTAMP;
CREATE UNIQUE INDEX tokens_previous_sha256 ON tokens (previous_sha256)
    WHERE previous_sha256 IS NOT NULL;

-- Whether Show keeps secrets of each kind, and the longest overlap offered.
ALTER TABLE settings ADD COLUMN show_clients BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE settings ADD COLUMN show_api_tokens BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE settings ADD COLUMN max_overlap_hours INTEGER NOT NULL DEFAULT 168;

-- The previous secret decides whether a presented token authenticates: its
-- columns join the watched ones (see 2026-12-04-000001_validity_epoch).
DROP TRIGGER tokens_validity_epoch ON tokens;
CREATE CONSTRAINT TRIGGER tokens_validity_epoch
    AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
        user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
        revoked_at, revoked_by, previous_sha256, previous_valid_until
    OR DELETE ON tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
