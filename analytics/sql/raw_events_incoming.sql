-- Materialise rows read by pyarrow (`arriving`: event columns plus `filename`) as `incoming`; the
-- row number stands in for the Parquet row number (it tells copies of one id in one object apart).
CREATE OR REPLACE TEMP TABLE incoming AS SELECT *, row_number() OVER () AS file_row_number FROM arriving;
