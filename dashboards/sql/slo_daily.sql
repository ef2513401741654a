-- slo_daily rows with $1 <= day < $2.
SELECT
    day, latency_class, model_route, requests, errors, availability, p50_ms, p95_ms, p99_ms,
    latency_target_ms, within_latency_pct, availability_target, error_budget_remaining_pct, burn_rate
FROM marts.slo_daily
WHERE day >= $1 AND day < $2
ORDER BY day, latency_class, model_route;
