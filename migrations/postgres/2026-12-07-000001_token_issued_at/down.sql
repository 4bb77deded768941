ALTER TABLE tokens DROP COLUMN issued_at;
