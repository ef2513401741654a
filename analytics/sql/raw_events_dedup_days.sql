-- Idempotent reload, step 3: keep one row per event_id (the first object by path wins). Only ids
-- that occur twice (a retried batch written into two objects) reach the window.
DELETE FROM raw.events
WHERE rowid IN (
    SELECT rowid
    FROM (
        SELECT rowid, row_number() OVER (PARTITION BY event_id ORDER BY source_file, ts) AS copy
        FROM raw.events
        WHERE dt BETWEEN $first AND $last AND list_contains($days, dt)
          AND event_id IN (
            SELECT event_id FROM raw.events WHERE dt BETWEEN $first AND $last AND list_contains($days, dt) GROUP BY event_id HAVING count(*) > 1
          )
    )
    WHERE copy > 1
);
