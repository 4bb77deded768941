-- Single sign-on with OpenID Connect (SPEC §9).
--
-- sso_settings: one row (id 1), what /admin/sso edits. The client secret is
-- kept only sealed under the key of TESSERA_SECRET_KEY_FILE (never in clear);
-- password_sign_in says who may still sign in with a password while single
-- sign-on is on.
CREATE TABLE sso_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enabled BOOLEAN NOT NULL DEFAULT 0,
    issuer TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    client_secret_sealed BLOB,
    admin_claim TEXT NOT NULL DEFAULT '',
    admin_claim_value TEXT NOT NULL DEFAULT '',
    auto_create BOOLEAN NOT NULL DEFAULT 0,
    password_sign_in TEXT NOT NULL DEFAULT 'everyone'
        CHECK (password_sign_in IN ('everyone', 'admins', 'nobody')),
    updated_at TIMESTAMP
);
INSERT INTO sso_settings (id) VALUES (1);

-- Which account of an identity provider is which user: (issuer, subject) is
-- the provider's stable name for a person.
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX user_identities_issuer_subject ON user_identities (issuer, subject);
CREATE INDEX user_identities_user ON user_identities (user_id);
