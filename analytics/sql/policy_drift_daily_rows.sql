-- meta.drift_daily's rows for `days` (NULL: every day): request counts per lake day x tenant x
-- workflow x sensitivity x served model x policy version x prompt version, the input of
-- marts.policy_drift. Kept by day, so an hourly run re-aggregates one day of raw rows; every drift
-- figure is a sum of these counts (or the earliest ts), so it equals the figure from the raw rows.
CREATE OR REPLACE TEMP MACRO policy_drift_daily_rows(days) AS TABLE
SELECT
    dt, tenant_id, workflow, sensitivity, model_provider, model_name, policy_version, prompt_version,
    count(*) AS requests,
    count(*) FILTER (WHERE outcome = 'ok') AS ok_requests,
    count(*) FILTER (WHERE fallback_used) AS fallbacks,
    count(*) FILTER (WHERE outcome = 'blocked') AS blocked,
    min(ts) AS first_ts
FROM raw.events
WHERE days IS NULL OR list_contains(days, dt)
GROUP BY ALL;
