-- marts.cost_daily: the rows of $days replaced (run after deleting them; see cost_daily_rows.sql).
INSERT INTO marts.cost_daily BY NAME
SELECT * FROM cost_daily_rows($days::DATE[]);
