-- The days just reloaded into raw.events (in the load's transaction; now() is its start).
INSERT OR REPLACE INTO meta.day_loads SELECT unnest($days::DATE[]) AS dt, now()::TIMESTAMP AS loaded_at;
