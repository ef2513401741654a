-- ref.lanes from the policy config (registered by the pipeline as `incoming`).
CREATE OR REPLACE TABLE ref.lanes AS SELECT * FROM incoming;
