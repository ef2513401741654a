-- marts.shadow_spend with $1 <= day < $2, per team and identity: Bedrock spend outside the gateway.
SELECT team, identity_arn, string_agg(DISTINCT model, ', ' ORDER BY model) AS models,
    sum(requests)::BIGINT AS requests, sum(input_tokens + output_tokens)::BIGINT AS tokens,
    sum(cost_usd)::DOUBLE AS cost_usd
FROM marts.shadow_spend
WHERE day >= $1 AND day < $2
GROUP BY team, identity_arn
ORDER BY cost_usd DESC NULLS LAST, team;
