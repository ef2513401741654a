-- An ok (served, billed) request must belong to a tenant.
SELECT count(*) AS ok_without_tenant FROM raw.events WHERE outcome = 'ok' AND tenant_id IS NULL;
