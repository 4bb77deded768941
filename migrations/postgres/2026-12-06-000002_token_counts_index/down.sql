-- See up.sql: nothing to undo.
SELECT 1;
