-- ref.identities: IAM identity patterns (globs) that call Bedrock directly, and their teams (config `identities`).
CREATE OR REPLACE TABLE ref.identities AS SELECT * FROM incoming;
