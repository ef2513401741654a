-- ref.reconciled_providers: the gateway providers whose calls Bedrock logs and bills, with the account
-- and region their events are attributed to (config `reconciliation`, providers' `region`).
CREATE OR REPLACE TABLE ref.reconciled_providers AS SELECT * FROM incoming;
