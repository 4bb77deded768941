-- Token names are unique per owner and kind whatever the letters: SQLite's lower()
-- folds ASCII only ("Ärger" and "ärger" both passed), so the application stores the
-- folded name (Rust's to_lowercase of the trimmed name) and the unique index uses it.
-- Existing rows get lower(name), which is what the old index compared.
-- (SQLite cannot add a NOT NULL column without a default; every insert gives one.)
ALTER TABLE tokens ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE tokens SET name_key = lower(name);
DROP INDEX tokens_owner_kind_name;
CREATE UNIQUE INDEX tokens_owner_kind_name ON tokens (owner_id, kind, name_key)
    WHERE revoked_at IS NULL AND kind <> 'session';
