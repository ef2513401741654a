-- raw.events must hold each event_id once.
SELECT count(*) AS events, count(*) - count(DISTINCT event_id) AS duplicates FROM raw.events;
