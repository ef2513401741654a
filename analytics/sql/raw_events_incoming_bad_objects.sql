-- Objects among `incoming` whose rows break schema v1; they are quarantined with this reason.
SELECT
    substr(filename, $prefix_len + 1) AS path,
    CASE
        WHEN count(*) FILTER (WHERE event_id IS NULL) > 0 THEN 'column event_id has null values'
        WHEN count(*) FILTER (WHERE ts IS NULL) > 0 THEN 'column ts has null values'
        ELSE 'schema_version ' || string_agg(DISTINCT coalesce(schema_version::VARCHAR, 'null'), ', ') || ' is not 1'
    END AS reason
FROM incoming
WHERE event_id IS NULL OR ts IS NULL OR schema_version IS DISTINCT FROM 1
GROUP BY filename
ORDER BY path;
