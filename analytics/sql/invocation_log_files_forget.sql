DELETE FROM meta.invocation_log_files WHERE list_contains($paths, path);
