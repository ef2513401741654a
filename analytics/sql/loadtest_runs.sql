-- marts.loadtest_runs: one row per load-test run, from loadtests/<run_id>/summary.json in the lake.
-- `summaries` is the parsed summaries (registered by the pipeline); details = the criteria as JSON.
CREATE OR REPLACE TABLE marts.loadtest_runs AS
SELECT
    run_id, scenario, started_at, duration_s, verdict, requests, rps, p95_ms, error_rate, fallback_rate,
    refused_as_designed_rate, unexpected_errors, details::JSON AS details, source_path
FROM summaries
ORDER BY started_at, run_id;
