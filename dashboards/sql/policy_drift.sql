-- Drift findings with $1 <= day < $2.
SELECT day, tenant_id, kind, subject, observed, expected, severity, detail
FROM marts.policy_drift
WHERE day >= $1 AND day < $2
ORDER BY day DESC, severity, kind;
