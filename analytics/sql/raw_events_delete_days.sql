-- Idempotent reload, step 1: forget the days being reloaded.
DELETE FROM raw.events WHERE list_contains($days, dt);
