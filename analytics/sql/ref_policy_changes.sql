-- ref.policy_changes from the policy config and the policies/ snapshots (registered by the pipeline as `incoming`).
CREATE OR REPLACE TABLE ref.policy_changes AS SELECT * FROM incoming;
