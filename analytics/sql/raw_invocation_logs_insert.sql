-- Append the incoming records to raw.invocation_logs: those of the objects DuckDB scanned whole
-- ($scanned, from scanned_logs) and those read one by one (careful_logs). One row per request id, the
-- first copy by object path (then line, then time), and none whose request id is already loaded.
-- Returns the rows inserted.
INSERT INTO raw.invocation_logs
WITH incoming AS (
    SELECT * EXCLUDE (valid) FROM scanned_logs WHERE list_contains($scanned::VARCHAR[], source_file)
    UNION ALL BY NAME
    SELECT * FROM careful_logs
)
SELECT
    (ts AT TIME ZONE 'UTC')::DATE AS dt, ts AT TIME ZONE 'UTC' AS ts, request_id, account_id, region,
    identity_arn, operation, model_id, input_tokens, output_tokens, cache_read_input_tokens,
    cache_write_input_tokens, error_code, trace_id, tenant_id, workflow, source_file
FROM incoming AS i
WHERE NOT EXISTS (SELECT 1 FROM raw.invocation_logs AS r WHERE r.request_id = i.request_id)
QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY source_file, line NULLS LAST, ts) = 1;
