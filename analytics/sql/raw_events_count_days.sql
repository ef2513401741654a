-- Rows read (objects kept) and rows loaded (after deduplication) for the days just reloaded.
SELECT
    (SELECT sum(rows) FROM meta.lake_files WHERE list_contains($days, dt)),
    (SELECT count(*) FROM raw.events WHERE list_contains($days, dt));
