DROP TABLE password_codes;
