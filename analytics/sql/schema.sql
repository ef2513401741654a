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
    state_degraded BOOLEAN           -- decided without the shared store (Redis unreachable)
);
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS state_degraded BOOLEAN;  -- warehouses built before it

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

-- Money is summed exactly (as DECIMAL), so a rerun gives bit-identical marts whatever the thread order.
CREATE OR REPLACE MACRO usd_sum(x) AS sum(x::DECIMAL(38, 12))::DOUBLE;
