-- The inventory's sessions tab in its other orders (last activity, expiry).
--
-- With `kind = ?` in a query SQLite's planner took the metrics index
-- tokens_counts (kind first, 2026-12-06) and sorted every live session in a
-- temporary B-tree: 250 ms for one page at 1,000,000 tokens, where 2 ms had
-- been measured before that index. tokens_counts becomes partial on a term
-- that only the metrics query states (`updated_at IS NOT NULL`, true of every
-- row), so no other query can pick it. Then, as tokens_sessions does for the
-- newest-first default, two partial indexes hold the live sessions in the
-- other orders, so that such a page reads its 51 rows and stops.
DROP INDEX tokens_counts;
CREATE INDEX tokens_counts ON tokens (kind, status, revoked_at, expires_at)
    WHERE updated_at IS NOT NULL;
CREATE INDEX tokens_sessions_last_used ON tokens (last_used_at, id)
    WHERE revoked_at IS NULL AND kind = 'session';
CREATE INDEX tokens_sessions_expires ON tokens (expires_at, id)
    WHERE revoked_at IS NULL AND kind = 'session';
