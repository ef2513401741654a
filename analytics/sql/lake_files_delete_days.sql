DELETE FROM meta.lake_files WHERE dt BETWEEN $first AND $last AND list_contains($days, dt);
