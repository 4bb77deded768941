-- Passkeys and security keys (WebAuthn, SPEC §9). `credential` is the
-- webauthn-rs Passkey as JSON: the credential id, its public key and the
-- signature counter, no secret. `credential_id` (base64url) finds the passkey a
-- browser answered with; `passwordless` says whether the user chose to sign in
-- with it alone. Its twin in ../../postgres is the same.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    credential TEXT NOT NULL,
    passwordless BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id);
