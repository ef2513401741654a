-- Idempotent reload, step 3: every row of the kept objects (`incoming`; dt is the object's lake day)
-- except the later copies of a duplicated event_id.
INSERT INTO raw.events BY NAME
SELECT i.* EXCLUDE (ts, filename, file_row_number), timezone('UTC', i.ts) AS ts,
    substr(i.filename, $prefix_len + 1) AS source_file
FROM incoming AS i
ANTI JOIN duplicate_copies AS d ON d.filename = i.filename AND d.file_row_number = i.file_row_number;
