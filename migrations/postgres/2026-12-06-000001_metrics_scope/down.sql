-- Takes the scope out of the catalog, with whatever an administrator changed
-- in it since (its name stays in the scopes of tokens and user types, where
-- a name missing from the catalog grants nothing).
DELETE FROM scopes WHERE name = 'metrics';
