-- The months the marts cover, with the first and last day of data in each.
SELECT
    strftime(date_trunc('month', day), '%Y-%m') AS month,
    min(day) AS first_day,
    max(day) AS last_day,
    sum(cost_usd) AS cost_usd
FROM marts.cost_daily
GROUP BY 1
ORDER BY 1;
