-- Idempotent reload of one lake day, step 1: forget the day's rows.
DELETE FROM raw.events WHERE dt = $dt;
