-- The month's showback as FOCUS 1.0 rows: one charge per day x tenant x team x app x workflow x lane x
-- provider x model (a marts.cost_daily row) x cost part, each part a SKU with its own unit and price:
--   input        input tokens not read from or written to the prompt cache  (Tokens)
--   cache_read   prompt-cache reads                                         (Tokens)
--   cache_write  prompt-cache writes                                        (Tokens)
--   output       output tokens, reasoning tokens included                   (Tokens)
--   request      the per-request fee of the calls the gateway charged       (Requests)
--   image        the per-image fee of the images those calls sent           (Images)
-- These are the parts of cost_daily's cost_usd (input_cost_usd, cached_input_cost_usd, output_cost_usd
-- + reasoning_cost_usd, request_cost_usd, image_cost_usd): the quantities are the mart's counts of charged calls,
-- the unit prices the ref.pricing row the mart priced the day with (price_effective_from), so what the
-- gateway did not charge (calls failed without the provider's usage, CountTokens recorded unpriced)
-- and zero-quantity parts give no row. The catalog holds list
-- prices and the gateway knows no discount, so BilledCost = EffectiveCost = ListCost = ContractedCost
-- = PricingQuantity x ListUnitPrice, in DECIMAL (USD per 1M tokens x 10^-6, exact): they sum to the
-- month's cost_usd in marts.cost_daily and marts.showback_monthly. $month is the month's first day.
WITH parts AS (
    SELECT * FROM (VALUES
        (1, 'input', 'Tokens', 'input tokens'),
        (2, 'cache_read', 'Tokens', 'prompt-cache read tokens'),
        (3, 'cache_write', 'Tokens', 'prompt-cache write tokens'),
        (4, 'output', 'Tokens', 'output tokens'),
        (5, 'request', 'Requests', 'requests'),
        (6, 'image', 'Images', 'input images')
    ) AS t(part_order, cost_part, unit, label)
),
charges AS (
    SELECT c.*, k.*,
        CASE k.cost_part
            WHEN 'input' THEN c.priced_input_tokens - c.cache_read_tokens - c.cache_write_tokens
            WHEN 'cache_read' THEN c.cache_read_tokens
            WHEN 'cache_write' THEN c.cache_write_tokens
            WHEN 'output' THEN c.priced_output_tokens
            WHEN 'request' THEN c.priced_requests
            ELSE c.input_images
        END AS quantity,
        CASE k.cost_part
            WHEN 'input' THEN p.input_per_mtok::DECIMAL(18, 6) * 0.000001
            WHEN 'cache_read' THEN p.cache_read_per_mtok::DECIMAL(18, 6) * 0.000001
            WHEN 'cache_write' THEN p.cache_write_per_mtok::DECIMAL(18, 6) * 0.000001
            WHEN 'output' THEN p.output_per_mtok::DECIMAL(18, 6) * 0.000001
            WHEN 'request' THEN p.per_request_usd::DECIMAL(18, 12)
            ELSE p.input_image_usd::DECIMAL(18, 12)
        END::DECIMAL(18, 12) AS unit_price
    FROM marts.cost_daily AS c
    JOIN ref.pricing AS p ON p.model = c.model_name AND p.effective_from = c.price_effective_from
    CROSS JOIN parts AS k
    WHERE c.day >= $month AND c.day < ($month + INTERVAL 1 MONTH)::DATE
        -- as in cost_daily: no charged tokens, no cost (refused or failed calls, unpriced operations)
        AND (c.priced_input_tokens > 0 OR c.priced_output_tokens > 0)
),
priced AS (
    SELECT *, quantity::DECIMAL(20, 0) * unit_price AS cost
    FROM charges
    WHERE quantity > 0 AND unit_price > 0
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
    model_name || ' ' || label || ' for ' || coalesce(tenant_id, '(no tenant)') || '/'
        || coalesce(app_id, '(no app)') AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    (day + INTERVAL 1 DAY)::TIMESTAMP AS ChargePeriodEnd,
    day::TIMESTAMP AS ChargePeriodStart,
    NULL::VARCHAR AS CommitmentDiscountCategory,
    NULL::VARCHAR AS CommitmentDiscountId,
    NULL::VARCHAR AS CommitmentDiscountName,
    NULL::VARCHAR AS CommitmentDiscountStatus,
    NULL::VARCHAR AS CommitmentDiscountType,
    quantity::DECIMAL(38, 6) AS ConsumedQuantity,
    unit AS ConsumedUnit,
    cost::DECIMAL(38, 12) AS ContractedCost,
    unit_price::DECIMAL(38, 12) AS ContractedUnitPrice,
    cost::DECIMAL(38, 12) AS EffectiveCost,
    provider_name AS InvoiceIssuerName,
    cost::DECIMAL(38, 12) AS ListCost,
    unit_price::DECIMAL(38, 12) AS ListUnitPrice,
    'Standard' AS PricingCategory,
    quantity::DECIMAL(38, 6) AS PricingQuantity,
    unit AS PricingUnit,
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
    model_provider || '/' || model_name || '/' || cost_part AS SkuId,
    model_provider || '/' || model_name || '/' || cost_part || '/' || price_effective_from AS SkuPriceId,
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
    cost_part AS x_CostPart,
    price_effective_from AS x_PriceEffectiveFrom
FROM priced
LEFT JOIN focus_providers USING (model_provider)
ORDER BY day, tenant_id, team, app_id, workflow, latency_class, model_provider, model_name, part_order;
