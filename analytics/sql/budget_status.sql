-- marts.budget_status: one row per month x tenant with a budget, as of the last day with data that month.
-- Forecast = month-to-date spend at the month's average daily run rate; days_to_exhaustion = the
-- remaining budget at that run rate (0 once spent, NULL when nothing is spent). A budget is
-- 'exhausted' when less than a cent is left (the gateway stops admitting spend there).
CREATE OR REPLACE TABLE marts.budget_status AS
WITH months AS (
    SELECT date_trunc('month', day)::DATE AS month, max(day) AS as_of_day
    FROM marts.cost_daily
    GROUP BY ALL
),
spend AS (
    SELECT date_trunc('month', day)::DATE AS month, tenant_id, usd_sum(cost_usd) AS mtd_cost_usd
    FROM marts.cost_daily
    WHERE tenant_id IS NOT NULL
    GROUP BY ALL
),
status AS (
    SELECT
        m.month, m.as_of_day, b.tenant_id, b.team, b.monthly_budget_usd AS budget_usd,
        coalesce(s.mtd_cost_usd, 0.0) AS mtd_cost_usd,
        day(m.as_of_day) AS days_elapsed,
        day(last_day(m.month)) AS days_in_month
    FROM months AS m
    CROSS JOIN ref.budgets AS b
    LEFT JOIN spend AS s ON s.month = m.month AND s.tenant_id = b.tenant_id
),
rates AS (
    SELECT *, mtd_cost_usd / days_elapsed AS daily_run_rate_usd FROM status
)
SELECT
    month, as_of_day, tenant_id, team, budget_usd, mtd_cost_usd,
    100 * mtd_cost_usd / budget_usd AS mtd_used_pct,
    days_elapsed, days_in_month, daily_run_rate_usd,
    daily_run_rate_usd * days_in_month AS forecast_month_end_usd,
    100 * daily_run_rate_usd * days_in_month / budget_usd AS forecast_used_pct,
    CASE
        WHEN budget_usd - mtd_cost_usd < 0.01 THEN 0.0
        WHEN daily_run_rate_usd > 0 THEN (budget_usd - mtd_cost_usd) / daily_run_rate_usd
    END AS days_to_exhaustion,
    CASE
        WHEN mtd_cost_usd > budget_usd THEN 'over_budget'
        WHEN budget_usd - mtd_cost_usd < 0.01 THEN 'exhausted'
        WHEN daily_run_rate_usd * days_in_month > budget_usd THEN 'at_risk'
        ELSE 'ok'
    END AS status,
    month = (SELECT max(month) FROM months) AS is_current_month,
    strftime(month, '%Y-%m') AS year_month  -- 'YYYY-MM', as the dashboard's ?month= links
FROM rates
ORDER BY month, tenant_id;
