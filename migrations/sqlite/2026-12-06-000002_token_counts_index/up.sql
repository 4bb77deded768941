-- The token counts of /metrics (db::token_stats) group every row by kind and
-- status and look at revoked_at and expires_at. Without an index that holds
-- those four, SQLite reads the whole table (its rows are wide) and sorts it
-- in a temporary B-tree: 1.3 s for 1,000,000 tokens. This index, in the
-- order of the grouping, covers the query: 0.3 s, no sort, some 50 MB more
-- per million tokens. Last-use writes do not touch it (none of its columns).
CREATE INDEX tokens_counts ON tokens (kind, status, revoked_at, expires_at);
