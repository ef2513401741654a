-- Idempotent reload, step 2: the staged rows, once per event_id (the first object, by path, wins);
-- dt is the lake partition of the object (`manifest`: the objects being loaded, with their day).
INSERT INTO raw.events BY NAME
SELECT s.* EXCLUDE (ts), m.dt, timezone('UTC', s.ts) AS ts
FROM staged AS s
JOIN manifest AS m ON m.path = s.source_file
QUALIFY row_number() OVER (PARTITION BY s.event_id ORDER BY s.source_file, s.ts) = 1;
