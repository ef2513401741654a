DELETE FROM raw.events WHERE dt BETWEEN $first AND $last AND list_contains($days, dt) AND source_file = $path;
