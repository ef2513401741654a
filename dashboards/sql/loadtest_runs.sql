-- Every load-test run, newest first; source_path is its summary.json relative to the lake root.
SELECT run_id, scenario, started_at, duration_s, verdict, requests, rps, p95_ms, error_rate,
       fallback_rate, refused_as_designed_rate, unexpected_errors, details::VARCHAR AS details, source_path
FROM marts.loadtest_runs
ORDER BY started_at DESC;
