-- marts.showback_monthly: one row per month x tenant x team x app, summed from marts.cost_daily
-- (cost_usd split into input, cached input, output, reasoning, per-request and per-image cost as there).
-- budget_usd is the tenant's monthly budget; budget_used_pct is this app's cost as a share of it, so
-- the rows of one tenant add up to tenant_budget_used_pct.
CREATE OR REPLACE TABLE marts.showback_monthly AS
WITH monthly AS (
    SELECT
        date_trunc('month', day)::DATE AS month, tenant_id, team, app_id,
        sum(requests)::BIGINT AS requests,
        sum(input_tokens)::BIGINT AS input_tokens,
        sum(output_tokens)::BIGINT AS output_tokens,
        usd_sum(cost_usd) AS cost_usd,
        usd_sum(estimated_cost_usd) AS estimated_cost_usd,
        usd_sum(input_cost_usd) AS input_cost_usd,
        usd_sum(cached_input_cost_usd) AS cached_input_cost_usd,
        usd_sum(output_cost_usd) AS output_cost_usd,
        usd_sum(reasoning_cost_usd) AS reasoning_cost_usd,
        usd_sum(request_cost_usd) AS request_cost_usd,
        usd_sum(image_cost_usd) AS image_cost_usd
    FROM marts.cost_daily
    GROUP BY ALL
),
tenant_month AS (
    SELECT month, tenant_id, usd_sum(cost_usd) AS tenant_cost_usd FROM monthly GROUP BY ALL
)
SELECT
    m.month, m.tenant_id, m.team, m.app_id, m.requests, m.input_tokens, m.output_tokens,
    m.cost_usd, m.estimated_cost_usd,
    b.monthly_budget_usd AS budget_usd,
    100 * m.cost_usd / b.monthly_budget_usd AS budget_used_pct,
    t.tenant_cost_usd,
    100 * t.tenant_cost_usd / b.monthly_budget_usd AS tenant_budget_used_pct,
    prev.cost_usd AS prev_month_cost_usd,
    100 * (m.cost_usd - prev.cost_usd) / nullif(prev.cost_usd, 0) AS change_pct,
    m.input_cost_usd, m.cached_input_cost_usd, m.output_cost_usd, m.reasoning_cost_usd, m.request_cost_usd,
    m.image_cost_usd,
    strftime(m.month, '%Y-%m') AS year_month  -- 'YYYY-MM', as the dashboard's ?month= links
FROM monthly AS m
JOIN tenant_month AS t ON t.month = m.month AND t.tenant_id IS NOT DISTINCT FROM m.tenant_id
LEFT JOIN ref.budgets AS b ON b.tenant_id = m.tenant_id
LEFT JOIN monthly AS prev
    ON prev.month = (m.month - INTERVAL 1 MONTH)::DATE
    AND prev.tenant_id IS NOT DISTINCT FROM m.tenant_id
    AND prev.team IS NOT DISTINCT FROM m.team
    AND prev.app_id IS NOT DISTINCT FROM m.app_id
ORDER BY m.month, m.tenant_id, m.app_id;
