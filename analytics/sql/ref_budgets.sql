-- ref.budgets from the policy config (registered by the pipeline as `incoming`).
CREATE OR REPLACE TABLE ref.budgets AS SELECT * FROM incoming;
