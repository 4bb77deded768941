-- Two user types to start from, so that a fresh install can provision a
-- client before anyone has built a catalog: "Read-only" (every :read scope of
-- the initial catalog) and "Integrator" (read and write of collections,
-- devices and policies). Editable and deletable like any other; an
-- installation that already has a type of either name keeps its own.
INSERT INTO user_types (name, description, scopes, created_at)
SELECT 'Read-only', 'Reads everything, changes nothing.',
       'collections:read devices:read policies:read tokens:read users:read', CURRENT_TIMESTAMP
WHERE NOT EXISTS (SELECT 1 FROM user_types WHERE lower(name) = 'read-only');
INSERT INTO user_types (name, description, scopes, created_at)
SELECT 'Integrator', 'Reads and writes collections, devices and policies.',
       'collections:read collections:write devices:read devices:write policies:read policies:write', CURRENT_TIMESTAMP
WHERE NOT EXISTS (SELECT 1 FROM user_types WHERE lower(name) = 'integrator');
