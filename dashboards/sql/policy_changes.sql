-- Every policy-version change before $1: the policy timeline (observed = number of changed keys).
SELECT day, subject AS policy_version, observed AS keys_changed, detail
FROM marts.policy_drift
WHERE kind = 'policy_change' AND day < $1
ORDER BY day;
