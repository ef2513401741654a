-- Objects that changed since they were read lose their rows: they are read again.
DELETE FROM raw.invocation_logs WHERE list_contains($paths, source_file);
