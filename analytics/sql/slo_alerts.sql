-- marts.slo_alerts: multi-window, multi-burn-rate alerts (Google SRE Workbook, ch. 5):
--   page   1h long / 5m short  at burn rate 14.4  (2% of a 30-day budget in 1 hour)
--   page   6h long / 30m short at burn rate 6     (5% in 6 hours)
--   ticket 3d long / 6h short  at burn rate 1     (10% in 3 days)
-- Evaluated at the end of every 5-minute bucket with traffic for each lane x model_route; a rule
-- fires when BOTH windows' burn rate (error rate / (1 - availability target)) exceeds its threshold.
-- Consecutive firing evaluations form one alert: one row per alert, from fired_at to last_firing_at.
CREATE OR REPLACE TABLE marts.slo_alerts AS
WITH buckets AS (  -- from meta.slo_buckets (slo_alerts_buckets_rows.sql), kept up to date by day
    SELECT latency_class, model_route, bucket, sum(ok)::BIGINT AS ok, sum(errors)::BIGINT AS errors
    FROM meta.slo_buckets
    GROUP BY ALL
    HAVING sum(ok) + sum(errors) > 0
),
windows AS (
    SELECT
        latency_class, model_route, bucket + INTERVAL 5 MINUTE AS evaluated_at,
        ok AS ok_5m, errors AS errors_5m,
        sum(ok) OVER (w RANGE BETWEEN INTERVAL 25 MINUTE PRECEDING AND CURRENT ROW) AS ok_30m,
        sum(errors) OVER (w RANGE BETWEEN INTERVAL 25 MINUTE PRECEDING AND CURRENT ROW) AS errors_30m,
        sum(ok) OVER (w RANGE BETWEEN INTERVAL 55 MINUTE PRECEDING AND CURRENT ROW) AS ok_1h,
        sum(errors) OVER (w RANGE BETWEEN INTERVAL 55 MINUTE PRECEDING AND CURRENT ROW) AS errors_1h,
        sum(ok) OVER (w RANGE BETWEEN INTERVAL 355 MINUTE PRECEDING AND CURRENT ROW) AS ok_6h,
        sum(errors) OVER (w RANGE BETWEEN INTERVAL 355 MINUTE PRECEDING AND CURRENT ROW) AS errors_6h,
        sum(ok) OVER (w RANGE BETWEEN INTERVAL 4315 MINUTE PRECEDING AND CURRENT ROW) AS ok_3d,
        sum(errors) OVER (w RANGE BETWEEN INTERVAL 4315 MINUTE PRECEDING AND CURRENT ROW) AS errors_3d
    FROM buckets
    WINDOW w AS (PARTITION BY latency_class, model_route ORDER BY bucket)
),
evaluations AS (
    SELECT w.latency_class, w.model_route, w.evaluated_at, r.severity, r.long_window, r.short_window,
        r.burn_rate_threshold, l.availability_target,
        CASE r.long_window WHEN '1h' THEN errors_1h / (ok_1h + errors_1h)
                           WHEN '6h' THEN errors_6h / (ok_6h + errors_6h)
                           ELSE errors_3d / (ok_3d + errors_3d) END
            / (1 - l.availability_target) AS long_burn_rate,
        CASE r.short_window WHEN '5m' THEN errors_5m / (ok_5m + errors_5m)
                            WHEN '30m' THEN errors_30m / (ok_30m + errors_30m)
                            ELSE errors_6h / (ok_6h + errors_6h) END
            / (1 - l.availability_target) AS short_burn_rate
    FROM windows AS w
    JOIN ref.lanes AS l ON l.lane = w.latency_class
    CROSS JOIN (VALUES ('page', '1h', '5m', 14.4::DOUBLE), ('page', '6h', '30m', 6.0), ('ticket', '3d', '6h', 1.0))
        AS r(severity, long_window, short_window, burn_rate_threshold)
),
firing AS (
    SELECT *,
        -- consecutive 5-minute evaluations share an alert id (gaps-and-islands)
        epoch(evaluated_at) // 300 - row_number() OVER (
            PARTITION BY latency_class, model_route, long_window ORDER BY evaluated_at
        ) AS island
    FROM evaluations
    WHERE long_burn_rate > burn_rate_threshold AND short_burn_rate > burn_rate_threshold
)
SELECT
    min(evaluated_at)::DATE AS day,
    latency_class, model_route, severity, long_window, short_window, burn_rate_threshold,
    any_value(availability_target) AS availability_target,
    min(evaluated_at) AS fired_at,
    max(evaluated_at) AS last_firing_at,
    count(*) AS evaluations,
    max(long_burn_rate) AS peak_long_burn_rate,
    max(short_burn_rate) AS peak_short_burn_rate
FROM firing
GROUP BY latency_class, model_route, severity, long_window, short_window, burn_rate_threshold, island
ORDER BY fired_at, latency_class, model_route, long_window;
