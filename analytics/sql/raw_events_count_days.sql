SELECT count(*) FROM raw.events WHERE list_contains($days, dt);
