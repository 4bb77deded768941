-- The validity epoch: one number that moves whenever something a token's
-- validity or effective scopes depends on changes, in the same transaction as
-- the change. Every instance keeps validated tokens (and the scope catalog and
-- settings) in memory tagged with the epoch they were read at, and uses an
-- entry only after reading the epoch afresh, so a revocation that has answered
-- is refused by every instance, and an edit made with psql is seen at once.
-- Its twin in ../../sqlite watches the same tables and columns.
--
-- What is watched (a new column that changes what a token may do, or what
-- /api/v1/me and introspection say, belongs in these lists):
--   tokens: every column but the last use (written about once a second) and
--     updated_at/name_key, which only ever change with a watched one; deletes.
--   users: status, is_admin and the names /me shows; deletes.
--   memberships, scopes: any change.
--   user_types, departments: their names and scopes; deletes.
--   settings: the policy and the tenant id (not the cookie key or setup code).
-- Inserts of tokens and users are not watched: nothing cached depends on a row
-- that did not exist.
--
-- The triggers are deferred to commit and move the epoch once per transaction:
-- the epoch's row is the last lock a transaction takes, so two writers can
-- never wait for each other in a cycle, and a bulk revoke of 10,000 tokens
-- updates it once.
CREATE TABLE validity_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO validity_epoch (id, epoch) VALUES (1, 1);

CREATE FUNCTION move_validity_epoch() RETURNS trigger AS $$
BEGIN
    IF current_setting('tessera.validity_epoch_moved', true) IS DISTINCT FROM 'on' THEN
        UPDATE validity_epoch SET epoch = epoch + 1 WHERE id = 1;
        PERFORM set_config('tessera.validity_epoch_moved', 'on', true);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER tokens_validity_epoch
    AFTER UPDATE OF kind, name, description, owner_id, created_by, department_id,
        user_type_id, scopes, display_prefix, sha256, status, expires_at, device_name,
        revoked_at, revoked_by
    OR DELETE ON tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER users_validity_epoch
    AFTER UPDATE OF username, email, display_name, is_admin, status OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER memberships_validity_epoch
    AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER user_types_validity_epoch
    AFTER UPDATE OF name, scopes OR DELETE ON user_types
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER departments_validity_epoch
    AFTER UPDATE OF name OR DELETE ON departments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER scopes_validity_epoch
    AFTER INSERT OR UPDATE OR DELETE ON scopes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
CREATE CONSTRAINT TRIGGER settings_validity_epoch
    AFTER UPDATE OF default_lifetime_days, max_lifetime_days, allow_non_expiring,
        retention_days, mobile_session_days, token_creation_enabled, tenant_id
    ON settings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION move_validity_epoch();
