-- price_catalog_drift findings of marts.reconciliation_drift with $1 <= day < $2, per model.
SELECT subject AS model, min(day) AS first_day, max(day) AS last_day, count(*) AS days,
    arg_max(observed, day) AS billed_per_mtok, arg_max(expected, day) AS catalog_per_mtok,
    arg_max(detail, day) AS detail
FROM marts.reconciliation_drift
WHERE kind = 'price_catalog_drift' AND day >= $1 AND day < $2
GROUP BY subject
ORDER BY first_day, model;
