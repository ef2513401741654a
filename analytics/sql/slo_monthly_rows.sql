-- marts.slo_monthly's rows for the months of `days` (NULL: every month): one row per month x lane x
-- model_route, computed from the month's raw rows (percentiles of a month are never averaged from
-- daily percentiles), so a reloaded day recomputes its whole month. Same definitions as marts.slo_daily.
CREATE OR REPLACE TEMP MACRO slo_monthly_rows(days) AS TABLE
WITH monthly AS (
    SELECT
        date_trunc('month', e.dt)::DATE AS month, e.latency_class, e.model_route,
        count(*) AS requests,
        count(*) FILTER (WHERE e.is_ok) AS ok,
        count(*) FILTER (WHERE e.is_error) AS errors,
        count(*) FILTER (WHERE e.is_policy) AS policy_outcomes,
        count(*) FILTER (WHERE e.is_client_error) AS client_errors,
        quantile_cont(e.latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE e.is_ok) AS pcts,
        count(*) FILTER (WHERE e.is_ok AND e.latency_ms <= l.latency_target_ms) AS ok_within_latency,
        any_value(l.latency_target_ms) AS latency_target_ms,
        any_value(l.availability_target) AS availability_target
    FROM raw.slo_events AS e
    LEFT JOIN ref.lanes AS l ON l.lane = e.latency_class
    WHERE days IS NULL OR (
        e.dt >= date_trunc('month', list_min(days::DATE[]))  -- lets the scan skip earlier row groups
        AND list_contains(
            list_transform(days::DATE[], lambda d: date_trunc('month', d)), date_trunc('month', e.dt)
        )
    )
    GROUP BY ALL
)
SELECT
    month, latency_class, model_route, requests, ok, errors, policy_outcomes, client_errors,
    ok / nullif(ok + errors, 0) AS availability,
    pcts[1] AS p50_ms, pcts[2] AS p95_ms, pcts[3] AS p99_ms,
    latency_target_ms,
    100 * ok_within_latency / nullif(ok, 0) AS within_latency_pct,
    availability_target,
    100 * (1 - errors / nullif((1 - availability_target) * (ok + errors), 0)) AS error_budget_remaining_pct,
    (errors / nullif(ok + errors, 0)) / (1 - availability_target) AS burn_rate
FROM monthly;
