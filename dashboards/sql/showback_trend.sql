-- Monthly spend per tenant over the twelve months ending with $1 ('YYYY-MM').
SELECT
    strftime(month, '%Y-%m') AS month,
    tenant_id,
    sum(cost_usd) AS cost_usd,
    sum(requests) AS requests
FROM marts.showback_monthly
WHERE month <= strptime($1 || '-01', '%Y-%m-%d')
  AND month > strptime($1 || '-01', '%Y-%m-%d') - INTERVAL 12 MONTH
GROUP BY 1, 2
ORDER BY 1, 2;
