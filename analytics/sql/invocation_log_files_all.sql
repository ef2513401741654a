-- The invocation-log objects raw.invocation_logs holds, with the size and mtime they had when read.
SELECT path, size, mtime_ns FROM meta.invocation_log_files;
