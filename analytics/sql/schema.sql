-- The warehouse's schemas and the tables the pipeline appends to; marts are rebuilt whole by their own files.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS meta;

-- One row per request, deduplicated on event_id; dt is the lake partition (the event's UTC day).
CREATE TABLE IF NOT EXISTS raw.events (
    dt DATE NOT NULL,
    event_id VARCHAR NOT NULL,
    schema_version SMALLINT,
    ts TIMESTAMP NOT NULL,            -- UTC
    trace_id VARCHAR,
    gateway_id VARCHAR,
    tenant_id VARCHAR,
    team VARCHAR,
    app_id VARCHAR,
    user_id VARCHAR,
    workflow VARCHAR,
    sensitivity VARCHAR,
    latency_class VARCHAR,
    budget_class VARCHAR,
    model_requested VARCHAR,
    model_provider VARCHAR,
    model_route VARCHAR,
    model_name VARCHAR,
    prompt_version VARCHAR,
    input_tokens INTEGER,
    output_tokens INTEGER,
    retrieval_latency_ms FLOAT,
    inference_latency_ms FLOAT,
    gateway_overhead_ms FLOAT,
    total_latency_ms FLOAT,
    ttft_ms FLOAT,
    status_code SMALLINT,
    outcome VARCHAR,
    error_type VARCHAR,
    fallback_used BOOLEAN,
    fallback_reason VARCHAR,
    attempts TINYINT,
    validation_result VARCHAR,
    guardrail_actions VARCHAR[],
    policy_version VARCHAR,
    estimated_cost_usd DOUBLE,
    streamed BOOLEAN,
    run_id VARCHAR,
    source_file VARCHAR,             -- the lake object the row was read from (the first, if duplicated)
    -- schema v2 (NULL on v1 rows, except operation = 'chat'); also added to older warehouses below
    operation VARCHAR,               -- OTel gen_ai.operation.name: chat, embeddings, ...
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    tool_calls SMALLINT,
    modalities VARCHAR[],
    state_degraded BOOLEAN,          -- decided without the shared store (Redis unreachable)
    input_images INTEGER             -- images the request sent (added within v2: NULL on older rows)
);
-- A warehouse built before schema v2 gains its columns (a no-op on a new one).
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS operation VARCHAR;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS cache_read_tokens INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS cache_write_tokens INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS reasoning_tokens INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS tool_calls SMALLINT;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS modalities VARCHAR[];
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS state_degraded BOOLEAN;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS input_images INTEGER;

-- One row per Bedrock model invocation as its invocation logs record it (AWS's ModelInvocationLog
-- record), deduplicated on request_id (the first copy loaded is kept); dt is the invocation's UTC day.
CREATE TABLE IF NOT EXISTS raw.invocation_logs (
    dt DATE NOT NULL,
    ts TIMESTAMP NOT NULL,            -- UTC
    request_id VARCHAR NOT NULL,
    account_id VARCHAR,
    region VARCHAR,
    identity_arn VARCHAR,
    operation VARCHAR,
    model_id VARCHAR,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cache_read_input_tokens BIGINT,
    cache_write_input_tokens BIGINT,
    error_code VARCHAR,
    trace_id VARCHAR,                 -- requestMetadata.aigw_trace_id (set by the gateway)
    tenant_id VARCHAR,                -- requestMetadata.aigw_tenant
    workflow VARCHAR,                 -- requestMetadata.aigw_workflow
    source_file VARCHAR NOT NULL      -- the log object, relative to the invocation-log source
);

-- Which invocation-log objects raw.invocation_logs holds: a run reads only new ones.
CREATE TABLE IF NOT EXISTS meta.invocation_log_files (
    path VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    records BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

-- The provider's bill: FOCUS rows as AWS Data Exports writes them (reloaded whole each run), with the
-- model and token type read from the usage type (bill_usage.sql). Money is DECIMAL: sums are exact.
CREATE TABLE IF NOT EXISTS raw.billing (
    charge_period_start TIMESTAMP NOT NULL,
    charge_period_end TIMESTAMP NOT NULL,
    charge_category VARCHAR,
    service_name VARCHAR,
    sku_id VARCHAR,
    sku_price_id VARCHAR,
    region_id VARCHAR,
    sub_account_id VARCHAR,
    consumed_quantity DECIMAL(38, 6),
    consumed_unit VARCHAR,
    pricing_quantity DECIMAL(38, 6),
    pricing_unit VARCHAR,
    billed_cost DECIMAL(38, 10) NOT NULL,
    effective_cost DECIMAL(38, 10) NOT NULL,
    list_cost DECIMAL(38, 10) NOT NULL,
    list_unit_price DECIMAL(38, 12),
    tags VARCHAR,                     -- JSON object
    x_usage_type VARCHAR,
    x_operation VARCHAR,
    source_file VARCHAR NOT NULL
);

-- Which lake objects each loaded day was built from: how a run knows which days have new data.
CREATE TABLE IF NOT EXISTS meta.lake_files (
    dt DATE NOT NULL,
    path VARCHAR NOT NULL,           -- relative to the lake root
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

-- When each day of raw.events was last (re)loaded: the day-grained marts rebuild only the days
-- loaded since they were last built (meta.mart_builds).
CREATE TABLE IF NOT EXISTS meta.day_loads (
    dt DATE PRIMARY KEY,
    loaded_at TIMESTAMP NOT NULL
);

-- When each incrementally maintained mart was last built, and from which reference data and SQL
-- (a different fingerprint means a whole rebuild).
CREATE TABLE IF NOT EXISTS meta.mart_builds (
    mart VARCHAR PRIMARY KEY,
    built_at TIMESTAMP NOT NULL,
    fingerprint VARCHAR NOT NULL
);

-- When a check that looks only at the days loaded since it last passed (unique_event_ids) last
-- passed, and with which SQL (another fingerprint means it checks every row again).
CREATE TABLE IF NOT EXISTS meta.check_passes (
    check_name VARCHAR PRIMARY KEY,
    passed_at TIMESTAMP NOT NULL,
    fingerprint VARCHAR NOT NULL
);

-- Objects the pipeline could not read, where they went and why.
CREATE TABLE IF NOT EXISTS meta.quarantine (
    path VARCHAR NOT NULL,
    quarantined_to VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL
);

-- The SLO classification of every request, defined once for every SLO mart (docs/analysts.md):
-- an error is an upstream failure or any gateway 5xx; policy outcomes and client errors are neither
-- good nor bad for availability; latency is judged on ok requests only.
CREATE OR REPLACE VIEW raw.slo_events AS
SELECT
    dt, ts, tenant_id, latency_class, model_route, model_name, outcome, status_code,
    total_latency_ms::DOUBLE AS latency_ms,
    (outcome = 'upstream_error' OR coalesce(status_code, 0) >= 500) AS is_error,
    (outcome = 'ok' AND coalesce(status_code, 0) < 500) AS is_ok,
    (outcome IN ('blocked', 'throttled', 'budget_exceeded') AND coalesce(status_code, 0) < 500) AS is_policy,
    (outcome = 'client_error' AND coalesce(status_code, 0) < 500) AS is_client_error
FROM raw.events;

-- The bill's Bedrock token lines by UTC day, with the model and token type read from the usage type
-- (AWS writes `<region code>-<model id>-<input|output|cache-read-input|cache-write-input>-tokens`; the
-- model is matched lazily, so `...-v1-cache-read-input-tokens` is the model's cache reads, not a model
-- `...-v1-cache-read` with input tokens).
CREATE OR REPLACE VIEW raw.billed_tokens AS
WITH usage AS (
    SELECT *, regexp_extract(
        x_usage_type, '^[A-Z0-9]+-(.+?)-(input|output|cache-read-input|cache-write-input)-tokens$',
        ['model', 'token_type']
    ) AS parsed
    FROM raw.billing
    WHERE service_name = 'Amazon Bedrock' AND coalesce(charge_category, 'Usage') = 'Usage'
)
SELECT
    charge_period_start::DATE AS day, sub_account_id AS account_id, region_id AS region,
    parsed.model AS model, replace(parsed.token_type, '-', '_') AS token_type,
    consumed_quantity, billed_cost, effective_cost, list_cost
FROM usage
WHERE parsed.model <> '';

-- Money is summed exactly (as DECIMAL), so a rerun gives bit-identical marts whatever the thread order.
CREATE OR REPLACE MACRO usd_sum(x) AS sum(x::DECIMAL(38, 12))::DOUBLE;
