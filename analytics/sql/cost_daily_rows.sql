-- marts.cost_daily's rows for `days` (NULL: every day): one row per day x tenant x team x app x workflow x lane x provider x model.
-- cost_usd is recomputed from ref.pricing at the price in force on the event's day (an ASOF join on
-- effective_from); estimated_cost_usd is the sum of the gateway's own per-request estimates.
-- A model with tokens but no price gets a NULL cost_usd, so it stands out instead of costing 0.
-- Load-test events (run_id starting with 'lt-', telemetry/layout.py LOAD_TEST_RUN_PREFIX) are left out,
-- so cost_daily, showback_monthly and budget_status hold tenant spend only; they stay in raw.events.
-- cost_usd prices what the gateway charged (gateway_shim/core.py `Gateway.finish`, docs/gateway.md "What
-- a request is charged"), read from each event: a call is *charged* when estimated_cost_usd is not
-- NULL and either above 0 (the provider's usage, or a hung-up stream's input estimate plus output so
-- far, was priced; the outcome may be an error) or the call is ok with tokens (priced even when the
-- gateway had no price for its model, so the reconciliation check sees it). Not charged: a call that
-- failed without the provider's usage (its event shows the gateway's input estimate at cost 0), an ok
-- answer of 0 tokens, and operations recorded unpriced (estimated_cost_usd NULL: e.g. CountTokens).
-- Every part uses the charged calls only:
-- cost_usd = input_cost_usd (priced input tokens not read from or written to the prompt cache, at the
-- input price) + cached_input_cost_usd (cache reads and writes at their own prices) + output_cost_usd
-- (priced output tokens that are not reasoning) + reasoning_cost_usd (reasoning tokens, at the output
-- price) + request_cost_usd (per_request_usd for each charged call) + image_cost_usd (input_image_usd
-- for each image a charged call sent). Cache and reasoning tokens are part of input and output tokens;
-- missing counts (schema v1, providers that do not report them, early v2 rows without input_images)
-- are 0.
-- Columns: requests, ok_requests, input_tokens and output_tokens count every call (the estimates of
-- failed calls and unpriced operations included); priced_requests, priced_input_tokens,
-- priced_output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens and input_images count
-- the charged calls: what the cost is for (the quantities of `aigw export focus`).
CREATE OR REPLACE TEMP MACRO cost_daily_rows(days) AS TABLE
WITH events AS (
    SELECT *,
        estimated_cost_usd IS NOT NULL AND (estimated_cost_usd > 0
            OR (outcome = 'ok' AND coalesce(input_tokens, 0) + coalesce(output_tokens, 0) > 0)) AS charged
    FROM raw.events
    WHERE (days IS NULL OR list_contains(days, dt))
        AND NOT starts_with(coalesce(run_id, ''), 'lt-')  -- load-test traffic is not tenant spend
),
usage AS (
    SELECT
        dt AS day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name,
        count(*) AS requests,
        count(*) FILTER (WHERE outcome = 'ok') AS ok_requests,
        count(*) FILTER (WHERE charged) AS priced_requests,
        coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(sum(cache_read_tokens) FILTER (WHERE charged), 0)::BIGINT AS cache_read_tokens,
        coalesce(sum(cache_write_tokens) FILTER (WHERE charged), 0)::BIGINT AS cache_write_tokens,
        coalesce(sum(reasoning_tokens) FILTER (WHERE charged), 0)::BIGINT AS reasoning_tokens,
        coalesce(sum(input_images) FILTER (WHERE charged), 0)::BIGINT AS input_images,
        coalesce(usd_sum(estimated_cost_usd), 0) AS estimated_cost_usd,
        coalesce(sum(input_tokens) FILTER (WHERE charged), 0)::BIGINT AS priced_input_tokens,
        coalesce(sum(output_tokens) FILTER (WHERE charged), 0)::BIGINT AS priced_output_tokens
    FROM events
    GROUP BY ALL
),
priced AS (
    SELECT
        u.*,
        p.input_per_mtok, p.output_per_mtok, p.cache_read_per_mtok, p.cache_write_per_mtok,
        p.per_request_usd, p.input_image_usd, p.effective_from AS price_effective_from,
        u.priced_input_tokens = 0 AND u.priced_output_tokens = 0 AS no_tokens,
        (u.priced_input_tokens - u.cache_read_tokens - u.cache_write_tokens) * p.input_per_mtok / 1e6 AS input_cost,
        (u.cache_read_tokens * p.cache_read_per_mtok + u.cache_write_tokens * p.cache_write_per_mtok) / 1e6
            AS cached_input_cost,
        (u.priced_output_tokens - u.reasoning_tokens) * p.output_per_mtok / 1e6 AS output_cost,
        u.reasoning_tokens * p.output_per_mtok / 1e6 AS reasoning_cost,
        u.priced_requests * p.per_request_usd AS request_cost,
        u.input_images * p.input_image_usd AS image_cost
    FROM usage AS u
    ASOF LEFT JOIN ref.pricing AS p ON u.model_name = p.model AND u.day >= p.effective_from
)
SELECT
    day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name,
    requests, ok_requests, input_tokens, output_tokens,
    CASE WHEN no_tokens THEN 0.0
         ELSE input_cost + cached_input_cost + output_cost + reasoning_cost + request_cost + image_cost
    END AS cost_usd,
    estimated_cost_usd,
    input_per_mtok,
    output_per_mtok,
    price_effective_from,
    cache_read_tokens, cache_write_tokens, reasoning_tokens, input_images,
    CASE WHEN no_tokens THEN 0.0 ELSE input_cost END AS input_cost_usd,
    CASE WHEN no_tokens THEN 0.0 ELSE cached_input_cost END AS cached_input_cost_usd,
    CASE WHEN no_tokens THEN 0.0 ELSE output_cost END AS output_cost_usd,
    CASE WHEN no_tokens THEN 0.0 ELSE reasoning_cost END AS reasoning_cost_usd,
    CASE WHEN no_tokens THEN 0.0 ELSE request_cost END AS request_cost_usd,
    CASE WHEN no_tokens THEN 0.0 ELSE image_cost END AS image_cost_usd,
    priced_requests, priced_input_tokens, priced_output_tokens
FROM priced;
