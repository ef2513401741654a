-- Days where cost recomputed at the price of the day and the gateway's estimates diverge by more than
-- $tolerance (relative), with the models that diverge (a model without a price counts as diverging).
WITH per_model AS (
    SELECT day, model_name, sum(cost_usd) AS cost_usd, sum(estimated_cost_usd) AS estimated_cost_usd
    FROM marts.cost_daily
    WHERE model_name IS NOT NULL
    GROUP BY ALL
),
scored AS (
    SELECT *,
        CASE WHEN cost_usd IS NULL THEN 1.0
             ELSE abs(cost_usd - estimated_cost_usd) / nullif(greatest(abs(cost_usd), abs(estimated_cost_usd)), 0)
        END AS divergence
    FROM per_model
)
SELECT day,
    sum(coalesce(cost_usd, 0)) AS cost_usd,
    sum(estimated_cost_usd) AS estimated_cost_usd,
    max(divergence) AS max_divergence,
    list(model_name || ' (' || coalesce(round(cost_usd, 6)::VARCHAR, 'no price') || ' vs '
        || round(estimated_cost_usd, 6) || ')' ORDER BY model_name) AS models
FROM scored
WHERE divergence > $tolerance
GROUP BY day
ORDER BY day;
