DELETE FROM raw.events WHERE list_contains($days, dt) AND source_file = $path;
