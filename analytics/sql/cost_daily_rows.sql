-- marts.cost_daily's rows for `days` (NULL: every day): one row per day x tenant x team x app x workflow x lane x provider x model.
-- cost_usd is recomputed from ref.pricing at the price in force on the event's day (an ASOF join on
-- effective_from); estimated_cost_usd is the sum of the gateway's own per-request estimates.
-- A model with tokens but no price gets a NULL cost_usd, so it stands out instead of costing 0.
-- Load-test events (run_id starting with 'lt-', telemetry/layout.py LOAD_TEST_RUN_PREFIX) are left out,
-- so cost_daily, showback_monthly and budget_status hold tenant spend only; they stay in raw.events.
CREATE OR REPLACE TEMP MACRO cost_daily_rows(days) AS TABLE
WITH usage AS (
    SELECT
        dt AS day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name,
        count(*) AS requests,
        count(*) FILTER (WHERE outcome = 'ok') AS ok_requests,
        coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(usd_sum(estimated_cost_usd), 0) AS estimated_cost_usd
    FROM raw.events
    WHERE (days IS NULL OR list_contains(days, dt))
        AND NOT starts_with(coalesce(run_id, ''), 'lt-')  -- load-test traffic is not tenant spend
    GROUP BY ALL
)
SELECT
    u.day, u.tenant_id, u.team, u.app_id, u.workflow, u.latency_class, u.model_provider, u.model_name,
    u.requests, u.ok_requests, u.input_tokens, u.output_tokens,
    CASE
        WHEN u.input_tokens = 0 AND u.output_tokens = 0 THEN 0.0
        ELSE (u.input_tokens * p.input_per_mtok + u.output_tokens * p.output_per_mtok) / 1e6
    END AS cost_usd,
    u.estimated_cost_usd,
    p.input_per_mtok,
    p.output_per_mtok,
    p.effective_from AS price_effective_from
FROM usage AS u
ASOF LEFT JOIN ref.pricing AS p ON u.model_name = p.model AND u.day >= p.effective_from;
