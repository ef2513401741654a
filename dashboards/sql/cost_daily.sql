-- cost_daily rows with $1 <= day < $2.
SELECT
    day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name,
    requests, input_tokens, output_tokens, cost_usd, estimated_cost_usd
FROM marts.cost_daily
WHERE day >= $1 AND day < $2;
