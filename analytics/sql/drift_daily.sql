-- meta.drift_daily, rebuilt whole (see drift_daily_rows.sql).
CREATE OR REPLACE TABLE meta.drift_daily AS SELECT * FROM drift_daily_rows(NULL);
