-- What each loaded day was built from (compared with the lake to find days with new data).
SELECT dt, path, size, mtime_ns FROM meta.lake_files;
