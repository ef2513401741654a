-- marts.reconciliation_daily with $1 <= day < $2, per model: the three sides' tokens and costs, and
-- the day x model rows that are not ok (day and status).
SELECT
    model,
    sum(gateway_input_tokens + gateway_output_tokens)::BIGINT AS gateway_tokens,
    sum(logged_gateway_input_tokens + logged_gateway_output_tokens)::BIGINT AS logged_gateway_tokens,
    sum(logged_input_tokens + logged_output_tokens)::BIGINT AS logged_tokens,
    sum(billed_input_tokens + billed_output_tokens)::BIGINT AS billed_tokens,
    sum(gateway_cost_usd) AS gateway_cost_usd,
    sum(logged_catalog_cost_usd) AS catalog_cost_usd,
    sum(billed_list_cost_usd)::DOUBLE AS billed_list_cost_usd,
    sum(billed_effective_cost_usd)::DOUBLE AS billed_effective_cost_usd,
    sum(shadow_requests)::BIGINT AS shadow_requests,
    count(*) AS days,
    count(*) FILTER (WHERE status = 'ok') AS days_ok,
    string_agg(strftime(day, '%d %b') || ' ' || status, ', ' ORDER BY day)
        FILTER (WHERE status IN ('token_mismatch', 'cost_mismatch')) AS mismatches,
    count(*) FILTER (WHERE status = 'no_bill_yet') AS days_not_billed
FROM marts.reconciliation_daily
WHERE day >= $1 AND day < $2
GROUP BY model
ORDER BY billed_effective_cost_usd DESC NULLS LAST, model;
