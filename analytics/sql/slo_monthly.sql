-- marts.slo_monthly, rebuilt whole (see slo_monthly_rows.sql for the definition).
CREATE OR REPLACE TABLE marts.slo_monthly AS
SELECT * FROM slo_monthly_rows(NULL)
ORDER BY month, latency_class, model_route;
