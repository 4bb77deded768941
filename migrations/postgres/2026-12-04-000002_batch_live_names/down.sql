DROP TRIGGER tokens_live_names_unique ON tokens;
DROP FUNCTION tokens_live_names_unique();
CREATE FUNCTION tokens_live_name_unique() RETURNS trigger AS $$
BEGIN
    IF NEW.kind <> 'session' AND NEW.revoked_at IS NULL THEN
        PERFORM 1 FROM users WHERE id = NEW.owner_id FOR UPDATE;
        IF EXISTS (
            SELECT 1 FROM tokens
            WHERE owner_id = NEW.owner_id AND kind = NEW.kind AND revoked_at IS NULL
              AND name_key = NEW.name_key
        ) THEN
            RAISE EXCEPTION 'live token name taken' USING ERRCODE = 'unique_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_live_name_unique BEFORE INSERT ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_live_name_unique();
