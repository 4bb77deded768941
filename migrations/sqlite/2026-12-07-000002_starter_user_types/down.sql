-- Only the starter types as shipped, and only while nothing refers to them.
DELETE FROM user_types
WHERE ((name = 'Read-only' AND scopes = 'collections:read devices:read policies:read tokens:read users:read')
    OR (name = 'Integrator' AND scopes = 'collections:read collections:write devices:read devices:write policies:read policies:write'))
  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_type_id = user_types.id)
  AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.user_type_id = user_types.id);
