-- One-time set-password links (an administrator creates a user without a
-- password, or issues a fresh link). Only the SHA-256 of the code is stored; a
-- code works once, until it expires. Its twin in ../../postgres is the same.
CREATE TABLE password_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_sha256 BLOB NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX password_codes_sha256 ON password_codes (code_sha256);
CREATE INDEX password_codes_user ON password_codes (user_id);
