-- marts.reconciliation_drift: findings from the provider's records, shaped like marts.policy_drift
-- (day, tenant_id, kind, subject, observed, expected, severity, detail).
--   price_catalog_drift  the bill's list unit price for a model and token type (input, output, cache
--                        read, cache write) on a day differs from the catalog's (ref.pricing in force
--                        that day; an unset cache price is the input price) by more than $price_tolerance
--                        (relative): the catalog missed or anticipated a price change (models the
--                        catalog does not price at all are shadow spend, not drift)
--   shadow_spend         per identity and month, Bedrock spend no gateway event accounts for
--                        (marts.shadow_spend): day is the first day seen, observed the month's cost
CREATE OR REPLACE TABLE marts.reconciliation_drift AS
WITH billed_prices AS (
    SELECT day, model, token_type,
        sum(list_cost)::DOUBLE / nullif(sum(consumed_quantity), 0)::DOUBLE * 1e6 AS billed_per_mtok
    FROM raw.billed_tokens
    GROUP BY ALL
),
compared AS (
    SELECT b.*, p.effective_from,
        CASE b.token_type
            WHEN 'input' THEN p.input_per_mtok
            WHEN 'output' THEN p.output_per_mtok
            WHEN 'cache_read_input' THEN p.cache_read_per_mtok
            WHEN 'cache_write_input' THEN p.cache_write_per_mtok
        END AS catalog_per_mtok
    FROM billed_prices AS b
    ASOF LEFT JOIN ref.pricing AS p ON b.model = p.model AND b.day >= p.effective_from
),
price_catalog_drift AS (
    SELECT day, NULL::VARCHAR AS tenant_id, 'price_catalog_drift' AS kind, model AS subject,
        max(billed_per_mtok) FILTER (WHERE token_type = 'input') AS observed,
        max(catalog_per_mtok) FILTER (WHERE token_type = 'input') AS expected,
        'high' AS severity,
        model || ' billed at ' || string_agg(
            round(billed_per_mtok, 4) || ' USD/1M ' || token_type || ' (catalog '
                || round(catalog_per_mtok, 4) || ' from ' || effective_from || ')', ', '
            ORDER BY token_type) AS detail
    FROM compared
    WHERE billed_per_mtok IS NOT NULL AND catalog_per_mtok IS NOT NULL
      AND abs(billed_per_mtok - catalog_per_mtok) > $price_tolerance * greatest(billed_per_mtok, catalog_per_mtok)
    GROUP BY day, model
),
shadow_spend AS (
    SELECT min(day) AS day, NULL::VARCHAR AS tenant_id, 'shadow_spend' AS kind,
        team || ' (' || identity_arn || ')' AS subject,
        sum(cost_usd)::DOUBLE AS observed, 0.0 AS expected, 'warning' AS severity,
        sum(requests) || ' Bedrock call(s) in ' || strftime(min(day), '%Y-%m') || ' by ' || identity_arn
            || ' (team ' || team || ') outside the gateway, ' || round(sum(cost_usd)::DOUBLE, 2)
            || ' USD at the billed effective rate' AS detail
    FROM marts.shadow_spend
    GROUP BY team, identity_arn, date_trunc('month', day)
)
SELECT * FROM price_catalog_drift
UNION ALL BY NAME SELECT * FROM shadow_spend
ORDER BY day, kind, subject;
