-- meta.slo_buckets, rebuilt whole (see slo_alerts_buckets_rows.sql).
CREATE OR REPLACE TABLE meta.slo_buckets AS SELECT * FROM slo_alerts_buckets_rows(NULL);
