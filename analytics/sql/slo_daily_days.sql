-- marts.slo_daily: the rows of $days replaced (run after deleting them; then slo_daily_month_to_date.sql).
INSERT INTO marts.slo_daily BY NAME
SELECT * FROM slo_daily_rows($days::DATE[]);
