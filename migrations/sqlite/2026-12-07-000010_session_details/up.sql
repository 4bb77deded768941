-- What the profile shows of each web session: the browser and address it
-- signed in from, when it was last seen (moved at most once a minute), and a
-- row id that names it on the page (never its key or the key's hash).
-- SQLite adds no generated key to an existing table: rebuild it.
CREATE TABLE sessions_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_sha256 BLOB NOT NULL UNIQUE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    absolute_expires_at TIMESTAMP NOT NULL,
    user_agent TEXT,
    ip TEXT,
    last_seen_at TIMESTAMP NOT NULL
);
INSERT INTO sessions_new (key_sha256, user_id, state, created_at, expires_at, absolute_expires_at, last_seen_at)
    SELECT key_sha256, user_id, state, created_at, expires_at, absolute_expires_at, created_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
