-- A live token's name stays unique per owner and kind (any case), as before,
-- but a trigger checks it instead of a partial unique index. That index had
-- to lose an entry at a random place for every revoked token (owners are
-- scattered), which made up half of the pages a bulk revoke wrote; the check
-- reads the owner's few tokens through `tokens_owner`, which a revoke leaves
-- alone. Locking the owner's row first makes two concurrent creations for one
-- owner take turns, so the second sees the first. A clash is a unique_violation,
-- as the index's was. Its twin in ../../sqlite does the same.
DROP INDEX tokens_owner_kind_name;
CREATE FUNCTION tokens_live_name_unique() RETURNS trigger AS $$
BEGIN
    IF NEW.kind <> 'session' AND NEW.revoked_at IS NULL THEN
        PERFORM 1 FROM users WHERE id = NEW.owner_id FOR UPDATE;
        IF EXISTS (
            SELECT 1 FROM tokens
            WHERE owner_id = NEW.owner_id AND kind = NEW.kind AND revoked_at IS NULL
              AND lower(name) = lower(NEW.name)
        ) THEN
            RAISE EXCEPTION 'live token name taken' USING ERRCODE = 'unique_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_live_name_unique BEFORE INSERT ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_live_name_unique();
