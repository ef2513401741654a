-- Burn-rate alerts with $1 <= day < $2.
SELECT *
FROM marts.slo_alerts
WHERE day >= $1 AND day < $2;
