-- Materialise rows read by pyarrow (`arriving`: event columns plus `filename`) as `incoming`.
CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM arriving;
