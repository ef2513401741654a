-- marts.latency_by_workflow: one row per month x workflow x lane (latency_class), rebuilt whole.
-- Percentiles are exact, over the ok requests' total_latency_ms of the month's raw rows (quantile_cont,
-- as in marts.slo_daily: a month's p95 is never an average of daily ones). The SLO classes are those of
-- raw.slo_events; within_latency_pct uses the lane's target from ref.lanes.
CREATE OR REPLACE TABLE marts.latency_by_workflow AS
WITH classified AS (
    SELECT
        date_trunc('month', dt)::DATE AS month, workflow, latency_class,
        total_latency_ms::DOUBLE AS latency_ms,
        (outcome = 'ok' AND coalesce(status_code, 0) < 500) AS is_ok,
        (outcome = 'upstream_error' OR coalesce(status_code, 0) >= 500) AS is_error
    FROM raw.events
),
monthly AS (
    SELECT
        c.month, c.workflow, c.latency_class,
        count(*) AS requests,
        count(*) FILTER (WHERE c.is_ok) AS ok,
        count(*) FILTER (WHERE c.is_error) AS errors,
        quantile_cont(c.latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE c.is_ok) AS pcts,
        count(*) FILTER (WHERE c.is_ok AND c.latency_ms <= l.latency_target_ms) AS ok_within_latency,
        any_value(l.latency_target_ms) AS latency_target_ms
    FROM classified AS c
    LEFT JOIN ref.lanes AS l ON l.lane = c.latency_class
    GROUP BY ALL
)
SELECT
    month, strftime(month, '%Y-%m') AS year_month, workflow, latency_class,
    requests, ok, errors,
    ok / nullif(ok + errors, 0) AS availability,
    pcts[1] AS p50_ms, pcts[2] AS p95_ms, pcts[3] AS p99_ms,
    latency_target_ms,
    100 * ok_within_latency / nullif(ok, 0) AS within_latency_pct
FROM monthly
ORDER BY month, workflow, latency_class;
