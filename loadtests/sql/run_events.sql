-- The gateway's events for one load-test run, as the verdicts need them (loadtests/telemetry.py).
-- `events` is the lake's events/v1 dataset registered by the caller; $1 = the run id.
SELECT
    epoch_us(ts) / 1e6                                        AS t,
    coalesce(latency_class, '')                               AS lane,
    coalesce(tenant_id, '')                                   AS tenant,
    coalesce(status_code, 0)                                  AS status,
    coalesce(outcome, '')                                     AS outcome,
    coalesce(model_name, '')                                  AS model,
    coalesce(model_provider, '')                              AS provider,
    coalesce(fallback_used, false)                            AS fallback_used,
    coalesce(fallback_reason, '')                             AS fallback_reason,
    coalesce(attempts, 0)                                     AS attempts,
    coalesce(total_latency_ms, 0)                             AS total_ms,
    coalesce(estimated_cost_usd, 0)                           AS cost_usd,
    coalesce(input_tokens, 0)                                 AS input_tokens,
    coalesce(error_type, '')                                  AS error_type,
    coalesce(list_contains(guardrail_actions, 'degraded:budget'), false) AS degraded,
    coalesce(gateway_id, '')                                  AS gateway
FROM events
WHERE run_id = $1
ORDER BY ts
