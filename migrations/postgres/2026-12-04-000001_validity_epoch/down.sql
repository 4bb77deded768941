DROP TRIGGER settings_validity_epoch ON settings;
DROP TRIGGER scopes_validity_epoch ON scopes;
DROP TRIGGER departments_validity_epoch ON departments;
DROP TRIGGER user_types_validity_epoch ON user_types;
DROP TRIGGER memberships_validity_epoch ON memberships;
DROP TRIGGER users_validity_epoch ON users;
DROP TRIGGER tokens_validity_epoch ON tokens;
DROP FUNCTION move_validity_epoch();
DROP TABLE validity_epoch;
