-- meta.drift_daily: the rows of $days replaced (run after deleting them; see policy_drift_daily_rows.sql).
INSERT INTO meta.drift_daily BY NAME
SELECT * FROM policy_drift_daily_rows($days::DATE[]);
