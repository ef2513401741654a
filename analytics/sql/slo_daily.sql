-- marts.slo_daily, rebuilt whole (see slo_daily_rows.sql; then slo_daily_month_to_date.sql).
CREATE OR REPLACE TABLE marts.slo_daily AS
SELECT * FROM slo_daily_rows(NULL)
ORDER BY day, latency_class, model_route;
