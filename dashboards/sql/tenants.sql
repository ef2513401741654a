-- Every tenant the marts know, so each keeps one colour on every page and month.
SELECT DISTINCT tenant_id FROM marts.showback_monthly WHERE tenant_id IS NOT NULL ORDER BY 1;
