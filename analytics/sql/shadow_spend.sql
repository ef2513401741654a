-- marts.shadow_spend: Bedrock calls the invocation logs record and no gateway event accounts for (no
-- requestMetadata trace id, or one no gateway event carries), by UTC day x account x region x identity
-- x model. The team comes from ref.identities (the longest matching glob; 'unmapped' when none does).
-- input_tokens counts cached input, as the gateway's events do (the log's inputTokenCount plus its
-- cacheRead/WriteInputTokenCount; the cache columns say how much). Cost is at the bill's effective
-- rate for that model and token type (input, output, cache read, cache write) on that day, or on the
-- latest billed day before it (rate_day: the latest such day used; a token type never billed costs
-- 0), so it carries the discount.
CREATE OR REPLACE TABLE marts.shadow_spend AS
WITH gateway_traces AS (
    SELECT DISTINCT trace_id FROM raw.events WHERE trace_id IS NOT NULL
),
shadow AS (
    SELECT l.dt AS day, l.account_id, l.region, l.identity_arn, l.model_id AS model,
        count(*) AS requests,
        coalesce(sum(l.input_tokens), 0)::BIGINT AS uncached_input_tokens,
        coalesce(sum(l.output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(sum(l.cache_read_input_tokens), 0)::BIGINT AS cache_read_input_tokens,
        coalesce(sum(l.cache_write_input_tokens), 0)::BIGINT AS cache_write_input_tokens
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
    SELECT day, account_id, region, model, token_type,
        sum(effective_cost) / nullif(sum(consumed_quantity), 0) AS rate
    FROM raw.billed_tokens
    GROUP BY ALL
),
shadow_tokens AS (  -- one row per shadow row and token type, named as the bill names them
    SELECT *, 'input' AS token_type, uncached_input_tokens AS tokens FROM shadow
    UNION ALL SELECT *, 'output', output_tokens FROM shadow
    UNION ALL SELECT *, 'cache_read_input', cache_read_input_tokens FROM shadow
    UNION ALL SELECT *, 'cache_write_input', cache_write_input_tokens FROM shadow
),
priced AS (
    SELECT k.day, k.account_id, k.region, k.identity_arn, k.model,
        max(r.day) AS rate_day,
        sum(k.tokens * coalesce(r.rate, 0)) AS cost_usd
    FROM shadow_tokens AS k
    ASOF LEFT JOIN rates AS r
        ON k.account_id = r.account_id AND k.region = r.region AND k.model = r.model
        AND k.token_type = r.token_type AND k.day >= r.day
    WHERE k.tokens > 0
    GROUP BY ALL
)
SELECT
    s.day, s.account_id, s.region, s.identity_arn, coalesce(t.team, 'unmapped') AS team, s.model,
    s.requests, s.uncached_input_tokens + s.cache_read_input_tokens + s.cache_write_input_tokens AS input_tokens,
    s.output_tokens,
    p.rate_day,
    coalesce(p.cost_usd, 0)::DECIMAL(38, 10) AS cost_usd,
    s.cache_read_input_tokens, s.cache_write_input_tokens
FROM shadow AS s
LEFT JOIN teams AS t USING (identity_arn)
LEFT JOIN priced AS p USING (day, account_id, region, identity_arn, model)
ORDER BY s.day, s.account_id, s.region, s.identity_arn, s.model;
