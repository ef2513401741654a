-- marts.shadow_spend: Bedrock calls the invocation logs record and no gateway event accounts for (no
-- requestMetadata trace id, or one no gateway event carries), by UTC day x account x region x identity
-- x model. The team comes from ref.identities (the longest matching glob; 'unmapped' when none does).
-- Cost is at the bill's effective rate for that model and token type on that day, or on the latest
-- billed day before it (rate_day says which; NULL cost: never billed), so it carries the discount.
CREATE OR REPLACE TABLE marts.shadow_spend AS
WITH gateway_traces AS (
    SELECT DISTINCT trace_id FROM raw.events WHERE trace_id IS NOT NULL
),
shadow AS (
    SELECT l.dt AS day, l.account_id, l.region, l.identity_arn, l.model_id AS model,
        count(*) AS requests,
        coalesce(sum(l.input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(l.output_tokens), 0)::BIGINT AS output_tokens
    FROM raw.invocation_logs AS l
    LEFT JOIN gateway_traces AS t ON l.trace_id = t.trace_id
    WHERE l.error_code IS NULL AND t.trace_id IS NULL
    GROUP BY ALL
),
teams AS (
    SELECT s.identity_arn, arg_max(i.team, length(i.pattern)) AS team
    FROM (SELECT DISTINCT identity_arn FROM shadow) AS s
    JOIN ref.identities AS i ON s.identity_arn GLOB i.pattern
    GROUP BY ALL
),
rates AS (
    SELECT day, account_id, region, model,
        sum(effective_cost) FILTER (WHERE token_type = 'input')
            / nullif(sum(consumed_quantity) FILTER (WHERE token_type = 'input'), 0) AS input_rate,
        sum(effective_cost) FILTER (WHERE token_type = 'output')
            / nullif(sum(consumed_quantity) FILTER (WHERE token_type = 'output'), 0) AS output_rate
    FROM raw.billed_tokens
    GROUP BY ALL
)
SELECT
    s.day, s.account_id, s.region, s.identity_arn, coalesce(t.team, 'unmapped') AS team, s.model,
    s.requests, s.input_tokens, s.output_tokens,
    r.day AS rate_day,
    (s.input_tokens * coalesce(r.input_rate, 0) + s.output_tokens * coalesce(r.output_rate, 0))::DECIMAL(38, 10)
        AS cost_usd
FROM shadow AS s
LEFT JOIN teams AS t USING (identity_arn)
ASOF LEFT JOIN rates AS r
    ON s.account_id = r.account_id AND s.region = r.region AND s.model = r.model AND s.day >= r.day
ORDER BY s.day, s.account_id, s.region, s.identity_arn, s.model;
