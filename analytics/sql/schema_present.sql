-- Whether schema.sql has run on this file (its last object exists).
SELECT count(*) > 0 FROM duckdb_functions() WHERE schema_name = 'main' AND function_name = 'usd_sum';
