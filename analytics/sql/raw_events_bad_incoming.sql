-- Objects in `incoming` whose rows are not schema v1; they are quarantined and left out of the insert.
SELECT substr(filename, $prefix_len + 1) AS path,
    'schema_version ' || string_agg(DISTINCT coalesce(schema_version::VARCHAR, 'null'), ', ') || ' is not 1' AS reason
FROM incoming
WHERE schema_version IS DISTINCT FROM 1
GROUP BY filename
ORDER BY filename;
