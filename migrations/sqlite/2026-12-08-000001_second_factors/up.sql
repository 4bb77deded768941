-- Second factors at sign-in (SPEC §9); its twin in ../../postgres is the same.
--
-- totp_secrets: a user's authenticator-app secret, sealed under the key of
-- TESSERA_SECRET_KEY_FILE and bound to the user id (never in clear here).
-- confirmed_at is NULL while the enrolment waits for its first code; last_step
-- is the last 30-second time step whose code was accepted (a code works once).
CREATE TABLE totp_secrets (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT
);

-- Single-use recovery codes, by their SHA-256 only.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_sha256 BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX recovery_codes_user_sha256 ON recovery_codes (user_id, code_sha256);

-- Who must have a second factor: nobody, admins or everyone.
ALTER TABLE settings ADD COLUMN require_second_factor TEXT NOT NULL DEFAULT 'nobody'
    CHECK (require_second_factor IN ('nobody', 'admins', 'everyone'));
