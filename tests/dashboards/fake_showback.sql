-- showback_monthly derived from the synthetic cost_daily, as the pipelines define it.
CREATE TABLE marts.showback_monthly AS
WITH monthly AS (
    SELECT date_trunc('month', day)::DATE AS month, tenant_id, team, app_id,
           sum(requests) AS requests, sum(cost_usd) AS cost_usd
    FROM marts.cost_daily
    GROUP BY ALL
)
SELECT m.month, m.tenant_id, m.team, m.app_id, m.requests, m.cost_usd,
       0.0::DOUBLE AS budget_usd, 0.0::DOUBLE AS budget_used_pct,
       p.cost_usd AS prev_month_cost_usd,
       100 * (m.cost_usd - p.cost_usd) / nullif(p.cost_usd, 0) AS change_pct
FROM monthly m
LEFT JOIN monthly p
  ON p.tenant_id = m.tenant_id AND p.app_id = m.app_id AND p.month = m.month - INTERVAL 1 MONTH;
