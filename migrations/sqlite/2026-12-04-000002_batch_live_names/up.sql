-- Nothing changes on SQLite: its twin in ../../postgres checks live token names
-- once per statement instead of once per row, but SQLite has row triggers only,
-- and with one writer at a time its row trigger's check cannot race. This
-- migration exists so that both backends have the same versions.
SELECT 1;
