-- Idempotent reload, step 2: every row of the kept objects (`incoming`; dt is the object's lake day).
INSERT INTO raw.events BY NAME
SELECT * EXCLUDE (ts, filename), timezone('UTC', ts) AS ts, substr(filename, $prefix_len + 1) AS source_file
FROM incoming;
