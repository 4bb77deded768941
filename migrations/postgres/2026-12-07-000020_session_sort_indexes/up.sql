-- Its twin in ../../sqlite steers SQLite's planner away from the metrics
-- index that only SQLite has (tokens_counts) and gives the sessions tab's
-- last-activity and expiry orders partial indexes of their own. PostgreSQL's
-- planner, with real statistics, already walks tokens_last_used and
-- tokens_expires for these pages.
SELECT 1;
