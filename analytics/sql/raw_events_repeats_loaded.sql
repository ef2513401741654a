-- Appending new objects to days already loaded: whether a row of `incoming` repeats an event_id the
-- days already hold. Then the days are reloaded whole instead, so that the first copy by object path
-- is the one kept, exactly as in a reload.
SELECT count(*) > 0 AS repeats
FROM incoming
WHERE event_id IN (
    SELECT event_id FROM raw.events WHERE dt BETWEEN $first AND $last AND list_contains($days, dt)
);
