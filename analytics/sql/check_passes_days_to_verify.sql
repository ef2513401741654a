-- The days loaded into raw.events since $check last passed with $fingerprint (its SQL); no row at
-- all when it never did: then it checks every row.
SELECT coalesce((
    SELECT list(dt ORDER BY dt) FROM meta.day_loads WHERE loaded_at >= p.passed_at
), []::DATE[]) AS days
FROM meta.check_passes AS p
WHERE p.check_name = $check AND p.fingerprint = $fingerprint;
