DROP INDEX tokens_api_live;
DROP INDEX tokens_sessions;
DROP INDEX tokens_created;
CREATE INDEX tokens_created ON tokens (created_at, id) WHERE revoked_at IS NULL;
DROP INDEX tokens_display_prefix;
