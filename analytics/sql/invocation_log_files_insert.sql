INSERT INTO meta.invocation_log_files SELECT path, size, mtime_ns, records, now()::TIMESTAMP FROM incoming_log_files;
