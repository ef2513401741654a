-- raw.events must hold each event_id once, checked for the ids of $days (the days loaded since the
-- check last passed over every earlier row): each such id is looked up in every row of raw.events,
-- so a copy in a day not reloaded is found too. The rows of the other days held unique ids when the
-- check last passed and have only lost rows since, so any duplicate involves an id of $days.
WITH checked AS (
    SELECT event_id FROM raw.events WHERE list_contains($days::DATE[], dt)
)
SELECT
    (SELECT count(*) FROM checked) AS events,
    (SELECT count(*) FROM raw.events WHERE event_id IN (SELECT event_id FROM checked))
        - (SELECT count(DISTINCT event_id) FROM checked) AS duplicates;
