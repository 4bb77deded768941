CREATE TABLE sessions_old (
    key_sha256 BLOB PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    absolute_expires_at TIMESTAMP NOT NULL
);
INSERT INTO sessions_old (key_sha256, user_id, state, created_at, expires_at, absolute_expires_at)
    SELECT key_sha256, user_id, state, created_at, expires_at, absolute_expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
