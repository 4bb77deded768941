-- When the token's current secret was issued: at creation, and again at each
-- regeneration. Regenerating keeps the lifetime the secret had
-- (expires_at - issued_at) rather than falling back to the policy's default.
-- Existing rows take their creation time; every insert names the column.
ALTER TABLE tokens ADD COLUMN issued_at TIMESTAMP;
UPDATE tokens SET issued_at = created_at;
ALTER TABLE tokens ALTER COLUMN issued_at SET NOT NULL;
