ALTER TABLE settings DROP COLUMN require_second_factor;
DROP TABLE recovery_codes;
DROP TABLE totp_secrets;
