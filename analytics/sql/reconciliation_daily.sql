-- marts.reconciliation_daily: one row per UTC day x account x region x model, three sides compared.
--   gateway  the calls the gateway's events say the provider served (model set, not an upstream error),
--            of the providers in ref.reconciled_providers, costed at the catalog price of the day
--   logged   Bedrock's invocation logs (raw.invocation_logs, successful calls); `logged_gateway_*` are
--            the logged calls whose requestMetadata trace id is a gateway event's
--   billed   the bill's token lines (raw.billed_tokens): quantities and list, effective, billed cost
-- Like with like: every `*_input_tokens` column counts input the way the gateway's events do, cache
-- reads and writes included, and `*_cache_read_input_tokens` / `*_cache_write_input_tokens` say how
-- much of it was cached. Bedrock counts cached input apart (the log's `inputTokenCount` excludes
-- `cacheRead/WriteInputTokenCount`; the bill has `cache-read-input` / `cache-write-input` usage
-- types), so the logged and billed input here are the sums of the three. Catalog costs price the
-- cached part at the catalog's cache prices, as marts.cost_daily does.
-- Tolerances are bound parameters (analytics/thresholds.py, documented in docs/analysts.md):
--   $token_tolerance  relative token difference (gateway vs logged, logged vs billed) still "ok"
--   $cost_tolerance   relative difference between the bill's list cost and the catalog cost of the
--                     logged tokens still "ok"
-- status: no_logs (no invocation log holds a call of that day: logging off or not delivered yet) |
-- token_mismatch | no_bill_yet (the day is after the bill's last day) | no_catalog_price (the catalog
-- does not price the model: the gateway cannot route it, its spend is in marts.shadow_spend) |
-- cost_mismatch | ok.
CREATE OR REPLACE TABLE marts.reconciliation_daily AS
WITH gateway_calls AS (
    SELECT e.dt AS day, p.account_id, p.region, e.model_name AS model,
        count(*) AS requests,
        coalesce(sum(e.input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(e.output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(sum(e.cache_read_tokens), 0)::BIGINT AS cache_read_input_tokens,
        coalesce(sum(e.cache_write_tokens), 0)::BIGINT AS cache_write_input_tokens
    FROM raw.events AS e
    JOIN ref.reconciled_providers AS p ON e.model_provider = p.provider
    WHERE e.model_name IS NOT NULL AND e.outcome <> 'upstream_error'
    GROUP BY ALL
),
gateway AS (
    SELECT g.*,
        ((g.input_tokens - g.cache_read_input_tokens - g.cache_write_input_tokens) * p.input_per_mtok
            + g.cache_read_input_tokens * p.cache_read_per_mtok + g.cache_write_input_tokens * p.cache_write_per_mtok
            + g.output_tokens * p.output_per_mtok) / 1e6 AS cost_usd
    FROM gateway_calls AS g
    ASOF LEFT JOIN ref.pricing AS p ON g.model = p.model AND g.day >= p.effective_from
),
gateway_traces AS (
    SELECT DISTINCT trace_id FROM raw.events WHERE trace_id IS NOT NULL
),
logged_calls AS (
    SELECT l.dt AS day, l.account_id, l.region, l.model_id AS model, t.trace_id IS NOT NULL AS via_gateway,
        coalesce(l.cache_read_input_tokens, 0) AS cache_read_input_tokens,
        coalesce(l.cache_write_input_tokens, 0) AS cache_write_input_tokens,
        -- the log's inputTokenCount excludes the cached input: add it back, as the events count it
        coalesce(l.input_tokens, 0) + coalesce(l.cache_read_input_tokens, 0)
            + coalesce(l.cache_write_input_tokens, 0) AS input_tokens,
        l.output_tokens
    FROM raw.invocation_logs AS l
    LEFT JOIN gateway_traces AS t ON l.trace_id = t.trace_id
    WHERE l.error_code IS NULL
),
logged AS (
    SELECT day, account_id, region, model,
        count(*) AS requests,
        coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(sum(cache_read_input_tokens), 0)::BIGINT AS cache_read_input_tokens,
        coalesce(sum(cache_write_input_tokens), 0)::BIGINT AS cache_write_input_tokens,
        count(*) FILTER (WHERE via_gateway) AS gateway_requests,
        coalesce(sum(input_tokens) FILTER (WHERE via_gateway), 0)::BIGINT AS gateway_input_tokens,
        coalesce(sum(output_tokens) FILTER (WHERE via_gateway), 0)::BIGINT AS gateway_output_tokens
    FROM logged_calls
    GROUP BY ALL
),
logged_at_catalog AS (
    SELECT l.*,
        ((l.input_tokens - l.cache_read_input_tokens - l.cache_write_input_tokens) * p.input_per_mtok
            + l.cache_read_input_tokens * p.cache_read_per_mtok + l.cache_write_input_tokens * p.cache_write_per_mtok
            + l.output_tokens * p.output_per_mtok) / 1e6 AS catalog_cost_usd
    FROM logged AS l
    ASOF LEFT JOIN ref.pricing AS p ON l.model = p.model AND l.day >= p.effective_from
),
billed AS (
    SELECT day, account_id, region, model,
        coalesce(sum(consumed_quantity) FILTER (WHERE token_type <> 'output'), 0)::BIGINT AS input_tokens,
        coalesce(sum(consumed_quantity) FILTER (WHERE token_type = 'output'), 0)::BIGINT AS output_tokens,
        coalesce(sum(consumed_quantity) FILTER (WHERE token_type = 'cache_read_input'), 0)::BIGINT
            AS cache_read_input_tokens,
        coalesce(sum(consumed_quantity) FILTER (WHERE token_type = 'cache_write_input'), 0)::BIGINT
            AS cache_write_input_tokens,
        sum(list_cost) AS list_cost_usd,
        sum(effective_cost) AS effective_cost_usd,
        sum(billed_cost) AS billed_cost_usd
    FROM raw.billed_tokens
    GROUP BY ALL
),
keys AS (
    SELECT day, account_id, region, model FROM gateway
    UNION SELECT day, account_id, region, model FROM logged
    UNION SELECT day, account_id, region, model FROM billed
),
joined AS (
    SELECT
        k.day, k.account_id, k.region, k.model,
        coalesce(g.requests, 0) AS gateway_requests,
        coalesce(g.input_tokens, 0) AS gateway_input_tokens,
        coalesce(g.output_tokens, 0) AS gateway_output_tokens,
        coalesce(g.cache_read_input_tokens, 0) AS gateway_cache_read_input_tokens,
        coalesce(g.cache_write_input_tokens, 0) AS gateway_cache_write_input_tokens,
        coalesce(g.cost_usd, 0) AS gateway_cost_usd,
        coalesce(l.requests, 0) AS logged_requests,
        coalesce(l.input_tokens, 0) AS logged_input_tokens,
        coalesce(l.output_tokens, 0) AS logged_output_tokens,
        coalesce(l.cache_read_input_tokens, 0) AS logged_cache_read_input_tokens,
        coalesce(l.cache_write_input_tokens, 0) AS logged_cache_write_input_tokens,
        coalesce(l.gateway_requests, 0) AS logged_gateway_requests,
        coalesce(l.gateway_input_tokens, 0) AS logged_gateway_input_tokens,
        coalesce(l.gateway_output_tokens, 0) AS logged_gateway_output_tokens,
        coalesce(l.requests, 0) - coalesce(l.gateway_requests, 0) AS shadow_requests,
        l.catalog_cost_usd AS logged_catalog_cost_usd,
        b.input_tokens AS billed_input_tokens,
        b.output_tokens AS billed_output_tokens,
        b.cache_read_input_tokens AS billed_cache_read_input_tokens,
        b.cache_write_input_tokens AS billed_cache_write_input_tokens,
        b.list_cost_usd AS billed_list_cost_usd,
        b.effective_cost_usd AS billed_effective_cost_usd,
        b.billed_cost_usd,
        k.day > (SELECT max(day) FROM raw.billed_tokens) OR NOT EXISTS (SELECT 1 FROM raw.billed_tokens)
            AS no_bill_yet,
        k.day NOT IN (SELECT DISTINCT dt FROM raw.invocation_logs) AS no_logs
    FROM keys AS k
    LEFT JOIN gateway AS g USING (day, account_id, region, model)
    LEFT JOIN logged_at_catalog AS l USING (day, account_id, region, model)
    LEFT JOIN billed AS b USING (day, account_id, region, model)
),
scored AS (
    SELECT *,
        (gateway_input_tokens + gateway_output_tokens)
            - (logged_gateway_input_tokens + logged_gateway_output_tokens) AS gateway_vs_logged_tokens,
        CASE WHEN no_bill_yet THEN NULL
            ELSE (logged_input_tokens + logged_output_tokens)
                - coalesce(billed_input_tokens + billed_output_tokens, 0)
        END AS logged_vs_billed_tokens,
        CASE WHEN no_bill_yet THEN NULL
            ELSE coalesce(billed_list_cost_usd, 0)::DOUBLE - coalesce(logged_catalog_cost_usd, 0)
        END AS billed_vs_catalog_usd
    FROM joined
)
SELECT
    day, account_id, region, model,
    gateway_requests, gateway_input_tokens, gateway_output_tokens, gateway_cost_usd,
    logged_requests, logged_input_tokens, logged_output_tokens,
    logged_cache_read_input_tokens, logged_cache_write_input_tokens,
    logged_gateway_requests, logged_gateway_input_tokens, logged_gateway_output_tokens, shadow_requests,
    logged_catalog_cost_usd,
    billed_input_tokens, billed_output_tokens, billed_list_cost_usd, billed_effective_cost_usd, billed_cost_usd,
    gateway_cache_read_input_tokens, gateway_cache_write_input_tokens,
    billed_cache_read_input_tokens, billed_cache_write_input_tokens,
    gateway_vs_logged_tokens, logged_vs_billed_tokens, billed_vs_catalog_usd,
    CASE
        WHEN no_logs THEN 'no_logs'
        WHEN abs(gateway_vs_logged_tokens) > $token_tolerance * greatest(
                gateway_input_tokens + gateway_output_tokens,
                logged_gateway_input_tokens + logged_gateway_output_tokens)
            OR abs(coalesce(logged_vs_billed_tokens, 0)) > $token_tolerance * greatest(
                logged_input_tokens + logged_output_tokens,
                coalesce(billed_input_tokens + billed_output_tokens, 0))
            THEN 'token_mismatch'
        WHEN no_bill_yet THEN 'no_bill_yet'
        WHEN logged_input_tokens + logged_output_tokens > 0 AND logged_catalog_cost_usd IS NULL
            THEN 'no_catalog_price'
        WHEN abs(billed_vs_catalog_usd) > $cost_tolerance * greatest(
                abs(coalesce(billed_list_cost_usd, 0)::DOUBLE), abs(coalesce(logged_catalog_cost_usd, 0)))
            THEN 'cost_mismatch'
        ELSE 'ok'
    END AS status
FROM scored
ORDER BY day, account_id, region, model;
