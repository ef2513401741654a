-- Whether the marts hold any data at all.
SELECT count(*) AS rows FROM marts.cost_daily;
