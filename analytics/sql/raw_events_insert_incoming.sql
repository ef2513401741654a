-- Idempotent reload, step 3: every row of the kept objects (`incoming`; dt is the object's lake day)
-- except the later copies of a duplicated event_id. A schema-v1 row has no operation column: v1 had
-- only chat front doors, so it reads as 'chat'; its other v2 columns stay NULL (not measured).
INSERT INTO raw.events BY NAME
SELECT i.* EXCLUDE (ts, filename, file_row_number, operation), timezone('UTC', i.ts) AS ts,
    coalesce(i.operation, CASE WHEN i.schema_version = 1 THEN 'chat' END) AS operation,
    substr(i.filename, $prefix_len + 1) AS source_file
FROM incoming AS i
ANTI JOIN duplicate_copies AS d ON d.filename = i.filename AND d.file_row_number = i.file_row_number;
