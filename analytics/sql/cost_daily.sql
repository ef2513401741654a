-- marts.cost_daily, rebuilt whole (see cost_daily_rows.sql for the definition).
CREATE OR REPLACE TABLE marts.cost_daily AS
SELECT * FROM cost_daily_rows(NULL)
ORDER BY day, tenant_id, app_id, model_name;
