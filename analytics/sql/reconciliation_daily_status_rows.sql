-- The rows of marts.reconciliation_daily with status $status, each as one line naming day and model
-- (input tokens count cached input, on every side; "none" where a side has no cost).
SELECT strftime(day, '%Y-%m-%d') || ' ' || model || ' (' || coalesce(account_id, '?') || '/'
    || coalesce(region, '?') || '): gateway ' || (gateway_input_tokens + gateway_output_tokens)
    || ' tokens, logged ' || (logged_gateway_input_tokens + logged_gateway_output_tokens) || ' of '
    || (logged_input_tokens + logged_output_tokens)
    || ', billed ' || coalesce((billed_input_tokens + billed_output_tokens)::VARCHAR, 'none')
    || '; catalog ' || coalesce(round(logged_catalog_cost_usd, 4)::VARCHAR, 'none') || ' USD vs billed list '
    || coalesce(round(billed_list_cost_usd, 4)::VARCHAR, 'none') AS detail
FROM marts.reconciliation_daily
WHERE status = $status
ORDER BY day, model;
