-- `manifest` is the objects the days were just loaded from, `incoming` their rows.
INSERT INTO meta.lake_files
SELECT m.dt, m.path, m.size, m.mtime_ns, coalesce(r.rows, 0), now()::TIMESTAMP
FROM manifest AS m
LEFT JOIN (
    SELECT substr(filename, $prefix_len + 1) AS path, count(*) AS rows FROM incoming GROUP BY ALL
) AS r ON r.path = m.path;
