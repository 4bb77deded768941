-- The tokens presented while revoked, disabled or expired: few, and what the
-- administrator overview counts (the last 7 days) and the inventory's status
-- "Presented while not valid" lists, without reading the whole table.
CREATE INDEX tokens_refused_use ON tokens (refused_use_at, id) WHERE refused_use_at IS NOT NULL;
