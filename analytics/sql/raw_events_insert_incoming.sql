-- Idempotent reload, step 2: the rows of the objects in `manifest` (the ones kept, with their lake
-- day as dt), once per event_id (the first object by path wins). `incoming` holds their rows.
INSERT INTO raw.events BY NAME
SELECT i.* EXCLUDE (ts, filename), m.dt, timezone('UTC', i.ts) AS ts, m.path AS source_file
FROM incoming AS i
JOIN manifest AS m ON m.path = substr(i.filename, $prefix_len + 1)
QUALIFY row_number() OVER (PARTITION BY i.event_id ORDER BY m.path, i.ts) = 1;
