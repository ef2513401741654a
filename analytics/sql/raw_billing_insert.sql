-- incoming_bill (read by pipelines/billing.py) into raw.billing, UTC wall times. Returns the rows inserted.
INSERT INTO raw.billing BY NAME
SELECT * REPLACE (
    charge_period_start AT TIME ZONE 'UTC' AS charge_period_start,
    charge_period_end AT TIME ZONE 'UTC' AS charge_period_end
)
FROM incoming_bill;
