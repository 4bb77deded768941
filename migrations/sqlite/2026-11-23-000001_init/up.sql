-- Tessera schema, SQLite flavour. Its twin in ../../postgres has the same tables,
-- columns and indexes; timestamps are UTC TIMESTAMP on both.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE INDEX users_is_admin ON users (is_admin);

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX departments_name_lower ON departments (lower(name));

CREATE TABLE user_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX user_types_name_lower ON user_types (lower(name));

CREATE TABLE memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    user_type_id BIGINT NOT NULL REFERENCES user_types (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX memberships_unique ON memberships (user_id, department_id, user_type_id);
CREATE INDEX memberships_department ON memberships (department_id);
CREATE INDEX memberships_user_type ON memberships (user_type_id);

CREATE TABLE scopes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    resource TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    retired_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'client', 'api', 'session')),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    department_id BIGINT REFERENCES departments (id) ON DELETE SET NULL,
    user_type_id BIGINT REFERENCES user_types (id) ON DELETE SET NULL,
    scopes TEXT NOT NULL DEFAULT '',
    display_prefix TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    last_used_ip TEXT,
    last_used_user_agent TEXT,
    device_name TEXT,
    revoked_at TIMESTAMP,
    revoked_by BIGINT REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX tokens_sha256 ON tokens (sha256);
-- Names are unique per owner and kind among live (unrevoked) tokens; sessions are named by device.
CREATE UNIQUE INDEX tokens_owner_kind_name ON tokens (owner_id, kind, lower(name))
    WHERE revoked_at IS NULL AND kind <> 'session';
CREATE INDEX tokens_owner ON tokens (owner_id, kind, created_at);
-- The inventory lists live tokens unless asked for revoked ones, so its sort
-- indexes leave revoked rows out: a burst of revocations never slows the lists.
CREATE INDEX tokens_created ON tokens (created_at, id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_expires ON tokens (expires_at, id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_last_used ON tokens (last_used_at, id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_department ON tokens (department_id, created_at, id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_revoked ON tokens (revoked_at, id) WHERE revoked_at IS NOT NULL;

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TIMESTAMP NOT NULL,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_name TEXT,
    ip TEXT,
    user_agent TEXT,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id BIGINT,
    target_label TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail TEXT
);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_events_action ON audit_events (action, occurred_at);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id, occurred_at);

-- One row (id = 1): the token policy and instance-wide settings.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_lifetime_days INTEGER NOT NULL DEFAULT 90,
    max_lifetime_days INTEGER NOT NULL DEFAULT 365,
    allow_non_expiring BOOLEAN NOT NULL DEFAULT 0,
    retention_days INTEGER NOT NULL DEFAULT 90,
    mobile_session_days INTEGER NOT NULL DEFAULT 30,
    token_creation_enabled BOOLEAN NOT NULL DEFAULT 1,
    tenant_id TEXT NOT NULL DEFAULT '',
    -- Signs session cookies, shared by every instance; generated at first start.
    cookie_key TEXT,
    -- SHA-256 of the one-time first-run setup code (hex); NULL once an admin exists.
    setup_code_sha256 TEXT,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO settings (id, updated_at) VALUES (1, CURRENT_TIMESTAMP);

-- Server-side web sessions; the key itself is never stored, only its SHA-256.
CREATE TABLE sessions (
    key_sha256 BLOB PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    absolute_expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed attempts counted for throttling (login per username and per IP, API per IP).
CREATE TABLE throttle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_events_bucket ON throttle_events (bucket, occurred_at);
CREATE INDEX throttle_events_occurred ON throttle_events (occurred_at);

INSERT INTO scopes (name, resource, description, created_at) VALUES
    ('collections:read', 'Collection', 'Read collections', CURRENT_TIMESTAMP),
    ('collections:write', 'Collection', 'Create, change and delete collections', CURRENT_TIMESTAMP),
    ('devices:read', 'Device', 'Read devices', CURRENT_TIMESTAMP),
    ('devices:write', 'Device', 'Register, change and remove devices', CURRENT_TIMESTAMP),
    ('policies:read', 'Policy', 'Read policies', CURRENT_TIMESTAMP),
    ('policies:write', 'Policy', 'Create, change and delete policies', CURRENT_TIMESTAMP),
    ('users:read', 'User', 'Read users', CURRENT_TIMESTAMP),
    ('users:write', 'User', 'Create, change and disable users', CURRENT_TIMESTAMP),
    ('tokens:read', 'Token', 'List and read your tokens', CURRENT_TIMESTAMP),
    ('tokens:write', 'Token', 'Create, change and revoke your tokens', CURRENT_TIMESTAMP),
    ('introspect', 'Introspection', 'Ask whether a token is valid (RFC 7662)', CURRENT_TIMESTAMP);
