-- raw.events must hold each event_id once: checked over every row (the first run, or after a failure
-- or a change of this check's SQL; see check_unique_event_ids_days.sql for the other runs).
SELECT count(*) AS events, count(*) - count(DISTINCT event_id) AS duplicates FROM raw.events;
