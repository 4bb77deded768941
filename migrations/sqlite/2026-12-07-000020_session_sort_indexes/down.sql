DROP INDEX tokens_sessions_expires;
DROP INDEX tokens_sessions_last_used;
DROP INDEX tokens_counts;
CREATE INDEX tokens_counts ON tokens (kind, status, revoked_at, expires_at);
