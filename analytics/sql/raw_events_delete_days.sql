-- Idempotent reload, step 1: forget the days being reloaded.
DELETE FROM raw.events WHERE dt BETWEEN $first AND $last AND list_contains($days, dt);
