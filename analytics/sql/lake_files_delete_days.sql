DELETE FROM meta.lake_files WHERE list_contains($days, dt);
