-- When the token's current secret was issued: at creation, and again at each
-- regeneration. Regenerating keeps the lifetime the secret had
-- (expires_at - issued_at) rather than falling back to the policy's default.
-- SQLite adds a NOT NULL column only with a constant default: every insert
-- names the column, and existing rows take their creation time.
ALTER TABLE tokens ADD COLUMN issued_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE tokens SET issued_at = created_at;
