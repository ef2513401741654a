-- meta.drift_daily, rebuilt whole (see policy_drift_daily_rows.sql).
CREATE OR REPLACE TABLE meta.drift_daily AS SELECT * FROM policy_drift_daily_rows(NULL);
