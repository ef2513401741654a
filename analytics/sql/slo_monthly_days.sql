-- marts.slo_monthly: the rows of the months of $days replaced (run after deleting them; see
-- slo_monthly_rows.sql).
INSERT INTO marts.slo_monthly BY NAME
SELECT * FROM slo_monthly_rows($days::DATE[]);
