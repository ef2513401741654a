-- Rows per loaded day: lake rows (before deduplication) against warehouse rows.
WITH lake AS (SELECT dt, count(*) AS objects, sum(rows) AS lake_rows FROM meta.lake_files GROUP BY dt),
warehouse AS (SELECT dt, count(*) AS warehouse_rows FROM raw.events GROUP BY dt)
SELECT dt, coalesce(objects, 0) AS objects, coalesce(lake_rows, 0)::BIGINT AS lake_rows,
    coalesce(warehouse_rows, 0) AS warehouse_rows
FROM lake FULL JOIN warehouse USING (dt)
ORDER BY dt;
