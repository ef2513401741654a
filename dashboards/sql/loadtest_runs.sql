-- Every load-test run, newest first.
SELECT run_id, scenario, started_at, duration_s, verdict, requests, rps, p95_ms, error_rate,
       fallback_rate, details
FROM marts.loadtest_runs
ORDER BY started_at DESC;
