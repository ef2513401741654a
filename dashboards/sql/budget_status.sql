-- marts.budget_status rows of one month ($1 = 'YYYY-MM'): spend to date, forecast and status per tenant.
SELECT
    strftime(month, '%Y-%m') AS month, as_of_day, tenant_id, team, budget_usd, mtd_cost_usd, mtd_used_pct,
    days_elapsed, days_in_month, daily_run_rate_usd, forecast_month_end_usd, forecast_used_pct,
    days_to_exhaustion, status
FROM marts.budget_status
WHERE strftime(month, '%Y-%m') = $1
ORDER BY mtd_cost_usd DESC;
