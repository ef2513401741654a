-- Every record of the invocation-log objects $files (a local source) in one parallel scan, as the
-- loader's rows; `valid` is false for a record that is not a ModelInvocationLog with a timestamp,
-- request id and model id (its object is then read again record by record). $prefix_len cuts the
-- source's root off each file name.
SELECT
    try_cast("timestamp" AS TIMESTAMPTZ) AS ts,
    requestId AS request_id,
    accountId AS account_id,
    region,
    identity.arn AS identity_arn,
    operation,
    modelId AS model_id,
    "input".inputTokenCount AS input_tokens,
    "output".outputTokenCount AS output_tokens,
    "input".cacheReadInputTokenCount AS cache_read_input_tokens,
    "input".cacheWriteInputTokenCount AS cache_write_input_tokens,
    errorCode AS error_code,
    requestMetadata.aigw_trace_id AS trace_id,
    requestMetadata.aigw_tenant AS tenant_id,
    requestMetadata.aigw_workflow AS workflow,
    NULL::BIGINT AS line,
    filename[$prefix_len + 1:] AS source_file,
    coalesce(schemaType = 'ModelInvocationLog' AND ts IS NOT NULL AND requestId <> '' AND modelId <> '',
        false) AS valid
FROM read_json(
    $files,
    format = 'newline_delimited',
    compression = 'gzip',
    filename = true,
    columns = {
        schemaType: 'VARCHAR', "timestamp": 'VARCHAR', accountId: 'VARCHAR', identity: 'STRUCT(arn VARCHAR)',
        region: 'VARCHAR', requestId: 'VARCHAR', operation: 'VARCHAR', modelId: 'VARCHAR',
        errorCode: 'VARCHAR',
        "input": 'STRUCT(inputTokenCount BIGINT, cacheReadInputTokenCount BIGINT, cacheWriteInputTokenCount BIGINT)',
        "output": 'STRUCT(outputTokenCount BIGINT)',
        requestMetadata: 'STRUCT(aigw_trace_id VARCHAR, aigw_tenant VARCHAR, aigw_workflow VARCHAR)'
    }
);
