-- ref.policies from the policy config and the policies/ snapshots (registered by the pipeline as `incoming`).
CREATE OR REPLACE TABLE ref.policies AS SELECT * FROM incoming;
