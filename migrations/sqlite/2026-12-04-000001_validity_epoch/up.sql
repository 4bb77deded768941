-- The validity epoch: one number that moves whenever something a token's
-- validity or effective scopes depends on changes, in the same transaction as
-- the change (see its twin in ../../postgres for what is watched and why; the
-- lists are the same). SQLite has row triggers only, so a bulk revoke moves the
-- epoch once per row; within one transaction that is one page written over and
-- over in memory.
CREATE TABLE validity_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO validity_epoch (id, epoch) VALUES (1, 1);

CREATE TRIGGER tokens_validity_epoch_update AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
    user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
    revoked_at, revoked_by ON tokens
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER tokens_validity_epoch_delete AFTER DELETE ON tokens
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER users_validity_epoch_update AFTER UPDATE OF username, email, display_name, is_admin, status ON users
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER users_validity_epoch_delete AFTER DELETE ON users
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER memberships_validity_epoch_insert AFTER INSERT ON memberships
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER memberships_validity_epoch_update AFTER UPDATE ON memberships
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER memberships_validity_epoch_delete AFTER DELETE ON memberships
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER user_types_validity_epoch_update AFTER UPDATE OF name, scopes ON user_types
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER user_types_validity_epoch_delete AFTER DELETE ON user_types
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER departments_validity_epoch_update AFTER UPDATE OF name ON departments
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER departments_validity_epoch_delete AFTER DELETE ON departments
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER scopes_validity_epoch_insert AFTER INSERT ON scopes
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER scopes_validity_epoch_update AFTER UPDATE ON scopes
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER scopes_validity_epoch_delete AFTER DELETE ON scopes
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_validity_epoch_update AFTER UPDATE OF default_lifetime_days, max_lifetime_days, allow_non_expiring,
    retention_days, mobile_session_days, token_creation_enabled, tenant_id ON settings
BEGIN
    UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
