-- `manifest` is the objects the days were just loaded from (registered by the pipeline).
INSERT INTO meta.lake_files
SELECT m.dt, m.path, m.size, m.mtime_ns, coalesce(s.rows, 0), now()::TIMESTAMP
FROM manifest AS m
LEFT JOIN (SELECT source_file, count(*) AS rows FROM staged GROUP BY ALL) AS s ON s.source_file = m.path;
