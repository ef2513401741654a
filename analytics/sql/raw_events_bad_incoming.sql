-- Objects in `incoming` whose rows are of no schema version the pipeline reads ($versions: 1 and 2);
-- they are quarantined and left out of the insert.
SELECT substr(filename, $prefix_len + 1) AS path,
    'schema_version ' || string_agg(DISTINCT coalesce(schema_version::VARCHAR, 'null'), ', ')
        || ' is not one of ' || array_to_string($versions, ', ') AS reason
FROM incoming
WHERE schema_version IS NULL OR NOT list_contains($versions, schema_version)
GROUP BY filename
ORDER BY filename;
