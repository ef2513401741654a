-- meta.drift_daily: the rows of $days replaced (run after deleting them; see drift_daily_rows.sql).
INSERT INTO meta.drift_daily BY NAME
SELECT * FROM drift_daily_rows($days::DATE[]);
