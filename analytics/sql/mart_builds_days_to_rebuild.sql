-- The days reloaded into raw.events since $mart was built with $fingerprint; no row at all when it
-- never was (or with other reference data or SQL): then it is rebuilt whole.
SELECT coalesce((
    SELECT list(dt ORDER BY dt) FROM meta.day_loads WHERE loaded_at >= b.built_at
), []::DATE[]) AS days
FROM meta.mart_builds AS b
WHERE b.mart = $mart AND b.fingerprint = $fingerprint;
