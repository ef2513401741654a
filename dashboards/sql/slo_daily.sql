-- slo_daily rows with $1 <= day < $2 that have SLO-eligible requests. availability = ok / (ok + errors):
-- policy outcomes and client errors count for neither side, so route-less rows of only blocked or
-- throttled requests are left out.
SELECT
    day, latency_class, model_route, requests, ok, errors, availability, p50_ms, p95_ms, p99_ms,
    latency_target_ms, within_latency_pct, availability_target, error_budget_remaining_pct, burn_rate
FROM marts.slo_daily
WHERE day >= $1 AND day < $2 AND ok + errors > 0
ORDER BY day, latency_class, model_route;
