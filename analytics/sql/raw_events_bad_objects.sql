-- Objects just inserted for $days whose rows are not schema v1; they are taken out and quarantined.
SELECT source_file, 'schema_version ' || string_agg(DISTINCT coalesce(schema_version::VARCHAR, 'null'), ', ')
    || ' is not 1' AS reason
FROM raw.events
WHERE dt BETWEEN $first AND $last AND list_contains($days, dt) AND schema_version IS DISTINCT FROM 1
GROUP BY source_file
ORDER BY source_file;
