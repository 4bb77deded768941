-- The `metrics` scope: what a bearer token needs for /metrics when
-- TESSERA_METRICS_REQUIRE_TOKEN is on. In the catalog of fresh installs and
-- upgraded ones alike; an installation whose administrators already made a
-- scope of that name keeps theirs as it is (retired or not).
-- Inserting moves the validity epoch (the scopes trigger): cached tokens are
-- looked up again once, with the catalog that has it.
INSERT INTO scopes (name, resource, description, created_at) VALUES
    ('metrics', 'Metrics', 'Read the Prometheus metrics at /metrics', (CURRENT_TIMESTAMP AT TIME ZONE 'UTC'))
ON CONFLICT (name) DO NOTHING;
