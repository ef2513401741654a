DELETE FROM marts.slo_monthly
WHERE list_contains(list_transform($days::DATE[], lambda d: date_trunc('month', d)), month);
