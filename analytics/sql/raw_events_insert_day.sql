-- Idempotent reload of one lake day, step 2: insert the day's rows once per event_id.
-- `batch` is the day's rows as read from the lake objects (registered by the pipeline).
INSERT INTO raw.events BY NAME
SELECT * EXCLUDE (ts), $dt::DATE AS dt, timezone('UTC', ts) AS ts
FROM batch
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_file, ts) = 1;
