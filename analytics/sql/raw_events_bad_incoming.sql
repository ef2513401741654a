-- Objects in `incoming` whose rows are of no schema version the pipeline reads ($versions: 1 and 2) or their partition (a `ts`
-- outside the object's dt/hour folder); they are quarantined and left out of the insert.
WITH rows AS (
    SELECT filename, schema_version, ts,
        dt::TIMESTAMPTZ + to_hours(regexp_extract(filename, '/hour=([0-9]{2})/', 1)::INTEGER) AS hour_start
    FROM incoming
),
per_object AS (
    SELECT filename,
        string_agg(DISTINCT coalesce(schema_version::VARCHAR, 'null'), ', ')
            FILTER (WHERE schema_version IS NULL OR NOT list_contains($versions, schema_version)) AS bad_versions,
        count(*) FILTER (WHERE ts < hour_start OR ts >= hour_start + INTERVAL 1 HOUR) AS outside,
        min(ts) FILTER (WHERE ts < hour_start OR ts >= hour_start + INTERVAL 1 HOUR) AS first_outside,
        any_value(hour_start) AS hour_start
    FROM rows
    GROUP BY filename
)
SELECT substr(filename, $prefix_len + 1) AS path,
    CASE WHEN bad_versions IS NOT NULL THEN 'schema_version ' || bad_versions || ' is not one of ' || array_to_string($versions, ', ')
        ELSE outside || ' row(s) with ts outside their partition dt/hour ('
            || strftime(hour_start, '%Y-%m-%d %H:00') || ' UTC), e.g. '
            || strftime(first_outside, '%Y-%m-%d %H:%M:%S') || ' UTC'
    END AS reason
FROM per_object
WHERE bad_versions IS NOT NULL OR outside > 0
ORDER BY filename;
