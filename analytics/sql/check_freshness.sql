-- The newest event in the warehouse and the newest lake object loaded.
SELECT max(ts) AS newest_event, (SELECT max(loaded_at) FROM meta.lake_files) AS last_load FROM raw.events;
