-- Every policy-version change up to $1 (exclusive): the policy timeline.
SELECT day, tenant_id, subject, observed, expected, severity, detail
FROM marts.policy_drift
WHERE kind = 'policy_change' AND day < $1
ORDER BY day;
