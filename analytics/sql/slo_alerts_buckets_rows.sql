-- meta.slo_buckets' rows for `days` (NULL: every day): ok and error requests per lake day x lane
-- (latency_class) x model_route x 5-minute bucket, the input of marts.slo_alerts. Kept by day, so
-- an hourly run re-aggregates one day of raw rows, not the month (an event's bucket normally lies
-- in its lake day; marts.slo_alerts sums the days of a bucket anyway).
CREATE OR REPLACE TEMP MACRO slo_alerts_buckets_rows(days) AS TABLE
SELECT
    dt, latency_class, model_route, time_bucket(INTERVAL 5 MINUTE, ts) AS bucket,
    count(*) FILTER (WHERE is_ok) AS ok,
    count(*) FILTER (WHERE is_error) AS errors
FROM raw.slo_events
WHERE days IS NULL OR list_contains(days, dt)
GROUP BY ALL;
