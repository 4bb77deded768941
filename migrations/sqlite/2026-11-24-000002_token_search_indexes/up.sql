-- Finding a token by its display prefix (`tsrp_4Fq0`) is a range scan of this
-- index instead of a scan of the table. Not partial: a revoke does not touch it,
-- and revoked tokens are found the same way. Its twin in ../../postgres is the same.
CREATE INDEX tokens_display_prefix ON tokens (display_prefix);

-- The default order of the inventory holds every column its filters read
-- (kind, name, status, expiry, department, last use), so that a walk along it
-- (a name search, a count of what a filter matches) never reads the table.
DROP INDEX tokens_created;
CREATE INDEX tokens_created ON tokens
    (created_at, id, kind, name, status, expires_at, department_id, last_used_at)
    WHERE revoked_at IS NULL;

-- The live mobile sessions, newest first: the sessions tab and its count.
CREATE INDEX tokens_sessions ON tokens (created_at, id) WHERE revoked_at IS NULL AND kind = 'session';

-- The live tokens of the API tab, by id only: the smallest index to count
-- them in ("10,000+" above the list).
CREATE INDEX tokens_api_live ON tokens (id) WHERE revoked_at IS NULL AND kind <> 'session';
