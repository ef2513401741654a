-- showback_monthly rows of one month ($1 = 'YYYY-MM').
SELECT
    strftime(month, '%Y-%m') AS month,
    tenant_id, team, app_id, requests, cost_usd, budget_usd, budget_used_pct,
    prev_month_cost_usd, change_pct
FROM marts.showback_monthly
WHERE strftime(month, '%Y-%m') = $1
ORDER BY tenant_id, app_id;
