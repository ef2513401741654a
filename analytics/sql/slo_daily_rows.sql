-- marts.slo_daily's rows for `days` (NULL: every day): one row per day x lane (latency_class) x model_route.
-- availability = ok / (ok + errors); percentiles are exact (quantile_cont, linear interpolation)
-- over the ok requests' total_latency_ms; within_latency_pct = share of ok requests at or under the
-- lane's latency target. burn_rate = the day's error rate / (1 - availability target);
-- error_budget_remaining_pct is over the calendar month to date (the SLO window).
CREATE OR REPLACE TEMP MACRO slo_daily_rows(days) AS TABLE
WITH daily AS (
    SELECT
        e.dt AS day, e.latency_class, e.model_route,
        count(*) AS requests,
        count(*) FILTER (WHERE e.is_ok) AS ok,
        count(*) FILTER (WHERE e.is_error) AS errors,
        count(*) FILTER (WHERE e.is_policy) AS policy_outcomes,
        count(*) FILTER (WHERE e.is_policy AND e.outcome = 'blocked') AS blocked,
        count(*) FILTER (WHERE e.is_policy AND e.outcome = 'throttled') AS throttled,
        count(*) FILTER (WHERE e.is_policy AND e.outcome = 'budget_exceeded') AS budget_exceeded,
        count(*) FILTER (WHERE e.is_client_error) AS client_errors,
        quantile_cont(e.latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE e.is_ok) AS pcts,
        count(*) FILTER (WHERE e.is_ok AND e.latency_ms <= l.latency_target_ms) AS ok_within_latency,
        any_value(l.latency_target_ms) AS latency_target_ms,
        any_value(l.availability_target) AS availability_target
    FROM raw.slo_events AS e
    LEFT JOIN ref.lanes AS l ON l.lane = e.latency_class
    WHERE days IS NULL OR list_contains(days, e.dt)
    GROUP BY ALL
)
SELECT
    day, latency_class, model_route, requests, ok, errors, policy_outcomes, blocked, throttled,
    budget_exceeded, client_errors,
    ok / nullif(ok + errors, 0) AS availability,
    pcts[1] AS p50_ms, pcts[2] AS p95_ms, pcts[3] AS p99_ms,
    latency_target_ms,
    100 * ok_within_latency / nullif(ok, 0) AS within_latency_pct,
    availability_target,
    NULL::DOUBLE AS error_budget_remaining_pct,  -- month to date: slo_daily_month_to_date.sql
    (errors / nullif(ok + errors, 0)) / (1 - availability_target) AS burn_rate
FROM daily;
