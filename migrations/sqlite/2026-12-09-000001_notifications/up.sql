-- Notifications and webhooks and the job runner they share. Its
-- twin in ../../postgres is the same but for the identity columns and BYTEA.

-- Background jobs, in the database so that several instances share them and a
-- restart loses none. An instance claims a due job by setting `locked_by` and
-- `locked_until` (its lease; PostgreSQL picks with FOR UPDATE SKIP LOCKED); a
-- job whose instance died is claimed again once the lease has passed.
-- `unique_key` makes enqueueing the same work twice a no-op (one reminder per
-- token and threshold; one row per periodic job, which reschedules itself).
-- `state`: pending, done or failed (gave up); `attempts` counts the failed
-- tries of the current run.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    unique_key TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    run_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_started_at TIMESTAMP,
    last_finished_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key);
CREATE INDEX jobs_due ON jobs (state, run_at);

-- Webhook endpoints: where events are POSTed, which event types (space
-- separated) and the signing secret, sealed under the key file like Show's
-- copies (never in the database in clear). `failing_since`: the first failure
-- of the current run of failures (a day of them disables the endpoint).
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL
);

-- One event sent (or being sent) to one endpoint: `message_id` is its
-- webhook-id, the same on every attempt; the last attempt's outcome.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    response_code INTEGER,
    latency_ms INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    next_attempt_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- Devices a user has signed in from (a hash of the user agent), for the
-- opt-in notice of a sign-in from a new one.
CREATE TABLE sign_in_devices (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_sha256 TEXT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, device_sha256)
);

-- What each user wants to hear: expiry reminders for their own tokens (on
-- unless turned off; security notices cannot be), a notice of a sign-in from
-- a new device (opt-in), and for administrators the daily digest (opt-in).
ALTER TABLE users ADD COLUMN notify_expiry BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN notify_new_device BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN expiry_digest BOOLEAN NOT NULL DEFAULT FALSE;

-- The last time a revoked, disabled or expired token was presented, and from
-- where (shown on its row), and when its owner was last told (once a day).
-- Not watched by the validity epoch: nothing a token may do depends on them.
ALTER TABLE tokens ADD COLUMN refused_use_at TIMESTAMP;
ALTER TABLE tokens ADD COLUMN refused_use_ip TEXT;
ALTER TABLE tokens ADD COLUMN refused_use_alerted_at TIMESTAMP;

-- How long audit events are kept (the runner deletes older ones).
ALTER TABLE settings ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365;
