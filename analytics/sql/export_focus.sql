-- The month's showback as FOCUS 1.0 rows: one charge per day x tenant x team x app x workflow x lane x
-- provider x model x token type, from marts.cost_daily (the catalog price in force that day). The
-- catalog holds list prices and the gateway knows no discount, so BilledCost = EffectiveCost =
-- ListCost = ContractedCost. Costs are DECIMAL (tokens x USD per 1M / 1e6, exact): they sum to the
-- month's cost_usd in marts.cost_daily and marts.showback_monthly. $month is the month's first day.
WITH charges AS (
    SELECT c.*, k.token_type,
        CASE k.token_type WHEN 'input' THEN c.input_tokens ELSE c.output_tokens END AS tokens,
        CASE k.token_type WHEN 'input' THEN c.input_per_mtok ELSE c.output_per_mtok END AS per_mtok
    FROM marts.cost_daily AS c
    CROSS JOIN (VALUES ('input'), ('output')) AS k(token_type)
    WHERE c.day >= $month AND c.day < ($month + INTERVAL 1 MONTH)::DATE AND c.model_name IS NOT NULL
),
priced AS (
    SELECT *,
        tokens::DECIMAL(38, 0) * per_mtok::DECIMAL(18, 6) / 1000000 AS cost,
        per_mtok::DECIMAL(18, 6) / 1000000 AS unit_price
    FROM charges
    WHERE tokens > 0 AND per_mtok IS NOT NULL
)
SELECT
    NULL::VARCHAR AS AvailabilityZone,
    cost::DECIMAL(38, 12) AS BilledCost,
    'aigw' AS BillingAccountId,
    'aigw gateway showback' AS BillingAccountName,
    'USD' AS BillingCurrency,
    ($month + INTERVAL 1 MONTH)::TIMESTAMP AS BillingPeriodEnd,
    $month::TIMESTAMP AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    NULL::VARCHAR AS ChargeClass,
    model_name || ' ' || token_type || ' tokens for ' || coalesce(tenant_id, '(no tenant)') || '/'
        || coalesce(app_id, '(no app)') AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    (day + INTERVAL 1 DAY)::TIMESTAMP AS ChargePeriodEnd,
    day::TIMESTAMP AS ChargePeriodStart,
    NULL::VARCHAR AS CommitmentDiscountCategory,
    NULL::VARCHAR AS CommitmentDiscountId,
    NULL::VARCHAR AS CommitmentDiscountName,
    NULL::VARCHAR AS CommitmentDiscountStatus,
    NULL::VARCHAR AS CommitmentDiscountType,
    tokens::DECIMAL(38, 6) AS ConsumedQuantity,
    'Tokens' AS ConsumedUnit,
    cost::DECIMAL(38, 12) AS ContractedCost,
    unit_price::DECIMAL(38, 12) AS ContractedUnitPrice,
    cost::DECIMAL(38, 12) AS EffectiveCost,
    provider_name AS InvoiceIssuerName,
    cost::DECIMAL(38, 12) AS ListCost,
    unit_price::DECIMAL(38, 12) AS ListUnitPrice,
    'Standard' AS PricingCategory,
    tokens::DECIMAL(38, 6) AS PricingQuantity,
    'Tokens' AS PricingUnit,
    provider_name AS ProviderName,
    CASE regexp_extract(model_name, '^([a-z]+)', 1)
        WHEN 'anthropic' THEN 'Anthropic' WHEN 'amazon' THEN 'Amazon' WHEN 'meta' THEN 'Meta'
        WHEN 'cohere' THEN 'Cohere' WHEN 'mistral' THEN 'Mistral AI' WHEN 'gpt' THEN 'OpenAI'
        ELSE provider_name
    END AS PublisherName,
    region AS RegionId,
    region AS RegionName,
    model_provider || '/' || model_name AS ResourceId,
    model_name AS ResourceName,
    'Model' AS ResourceType,
    'AI and Machine Learning' AS ServiceCategory,
    service_name AS ServiceName,
    model_provider || '/' || model_name || '/' || token_type AS SkuId,
    model_provider || '/' || model_name || '/' || token_type || '/' || price_effective_from AS SkuPriceId,
    coalesce(tenant_id, '(no tenant)') AS SubAccountId,
    coalesce(tenant_id, '(no tenant)') || ' (' || coalesce(team, 'no team') || ')' AS SubAccountName,
    to_json(map_from_entries(list_filter([
        ('aigw:tenant', tenant_id), ('aigw:team', team), ('aigw:app', app_id),
        ('aigw:workflow', workflow), ('aigw:lane', latency_class)
    ], lambda e: e[2] IS NOT NULL)))::VARCHAR AS Tags,
    tenant_id AS x_Tenant,
    team AS x_Team,
    app_id AS x_App,
    workflow AS x_Workflow,
    latency_class AS x_Lane,
    model_provider AS x_GatewayProvider,
    token_type AS x_TokenType,
    price_effective_from AS x_PriceEffectiveFrom
FROM priced
LEFT JOIN focus_providers USING (model_provider)
ORDER BY day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name, token_type;
