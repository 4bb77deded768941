-- Token names are unique per owner and kind whatever the letters. PostgreSQL's
-- lower() depends on the database's locale and SQLite's folds ASCII only, so the
-- application stores the folded name (Rust's to_lowercase of the trimmed name) and
-- the unique index uses it: both backends then agree. Existing rows get lower(name),
-- which is what the old index compared.
ALTER TABLE tokens ADD COLUMN name_key TEXT;
UPDATE tokens SET name_key = lower(name);
ALTER TABLE tokens ALTER COLUMN name_key SET NOT NULL;
DROP INDEX tokens_owner_kind_name;
CREATE UNIQUE INDEX tokens_owner_kind_name ON tokens (owner_id, kind, name_key)
    WHERE revoked_at IS NULL AND kind <> 'session';
