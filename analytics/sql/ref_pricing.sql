-- ref.pricing from the policy config (registered by the pipeline as `incoming`).
CREATE OR REPLACE TABLE ref.pricing AS SELECT * FROM incoming;
