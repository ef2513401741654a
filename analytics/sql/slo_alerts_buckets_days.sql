-- meta.slo_buckets: the rows of $days replaced (run after deleting them; see slo_alerts_buckets_rows.sql).
INSERT INTO meta.slo_buckets BY NAME
SELECT * FROM slo_alerts_buckets_rows($days::DATE[]);
