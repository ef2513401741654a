-- marts.policy_drift: one row per finding (day, tenant_id, kind, subject, observed, expected, severity, detail).
-- Thresholds are bound parameters (analytics/thresholds.py, documented in docs/analysts.md):
--   $min_requests      both weeks need at least this many requests before a week-over-week shift counts
--   $shift_threshold   relative week-over-week change that counts as a shift (0.5 = 50%)
--   $rate_floor        and, for rates, the absolute change must be at least this (0.02 = 2 points)
--   $untagged_share    share of a tenant's daily spend without workflow or app that is reported
-- The event counts come from meta.drift_daily (policy_drift_daily_rows.sql: counts of raw rows per day, kept
-- up to date by day), the costs from marts.cost_daily.
CREATE OR REPLACE TABLE marts.policy_drift AS
WITH served AS (
    SELECT dt AS day, tenant_id, sensitivity, model_provider, model_name, policy_version,
        sum(ok_requests)::BIGINT AS requests
    FROM meta.drift_daily
    WHERE model_name IS NOT NULL AND sensitivity IS NOT NULL
    GROUP BY ALL
    HAVING sum(ok_requests) > 0
),
allowlist_violation AS (
    SELECT s.day, s.tenant_id, 'allowlist_violation' AS kind,
        s.sensitivity || ' -> ' || s.model_provider || '/' || s.model_name AS subject,
        s.requests::DOUBLE AS observed, 0.0 AS expected, 'high' AS severity,
        s.requests || ' request(s) with sensitivity ' || s.sensitivity || ' served by ' || s.model_provider
            || '/' || s.model_name || ', not allowed under policy ' || s.policy_version AS detail
    FROM served AS s
    WHERE s.policy_version IN (SELECT policy_version FROM ref.policies)
      AND NOT EXISTS (
        SELECT 1 FROM ref.allowlist AS a
        WHERE a.policy_version = s.policy_version AND a.sensitivity = s.sensitivity
          AND (a.provider = '*' OR a.provider = s.model_provider)
          AND (a.model IS NULL OR a.model = s.model_name)
      )
),
unknown_policy_version AS (
    SELECT day, tenant_id, 'unknown_policy_version' AS kind, policy_version AS subject,
        requests::DOUBLE AS observed, 0.0 AS expected, 'warning' AS severity,
        requests || ' event(s) carry policy version ' || policy_version
            || ', which has no snapshot under policies/ and is not the current config' AS detail
    FROM (
        SELECT dt AS day, tenant_id, policy_version, sum(requests)::BIGINT AS requests
        FROM meta.drift_daily
        WHERE policy_version IS NOT NULL AND policy_version NOT IN (SELECT policy_version FROM ref.policies)
        GROUP BY ALL
    )
),
policy_change AS (
    SELECT first_seen::DATE AS day, NULL::VARCHAR AS tenant_id, 'policy_change' AS kind,
        policy_version AS subject, len(changed_keys)::DOUBLE AS observed, NULL::DOUBLE AS expected,
        'info' AS severity,
        'policy ' || coalesce(previous_version, '(none)') || ' -> ' || policy_version || ' first seen '
            || strftime(first_seen, '%Y-%m-%d %H:%M:%S') || ' UTC; changed: ' || array_to_string(changed_keys, ', ')
            AS detail
    FROM ref.policy_changes
    WHERE previous_version IS NOT NULL
),
weekly_events AS (
    SELECT date_trunc('week', dt)::DATE AS week, tenant_id, workflow,
        sum(requests)::BIGINT AS requests,
        sum(fallbacks)::BIGINT / sum(requests)::BIGINT AS fallback_rate,
        sum(blocked)::BIGINT / sum(requests)::BIGINT AS block_rate
    FROM meta.drift_daily
    WHERE workflow IS NOT NULL
    GROUP BY ALL
),
weekly_cost AS (
    SELECT date_trunc('week', day)::DATE AS week, tenant_id, workflow,
        usd_sum(cost_usd) / nullif(sum(ok_requests), 0) AS cost_per_request,
        (sum(input_tokens) + sum(output_tokens)) / nullif(sum(ok_requests), 0) AS tokens_per_request
    FROM marts.cost_daily
    WHERE workflow IS NOT NULL
    GROUP BY ALL
),
weekly AS (
    SELECT e.*, c.cost_per_request, c.tokens_per_request
    FROM weekly_events AS e
    LEFT JOIN weekly_cost AS c
        ON c.week = e.week AND c.tenant_id IS NOT DISTINCT FROM e.tenant_id AND c.workflow = e.workflow
),
weekly_metrics AS (
    UNPIVOT weekly
    ON fallback_rate, block_rate, cost_per_request, tokens_per_request
    INTO NAME metric VALUE value
),
pairs AS (
    SELECT cur.week, cur.tenant_id, cur.workflow, cur.metric, cur.value AS observed, prev.value AS expected
    FROM weekly_metrics AS cur
    JOIN weekly_metrics AS prev
        ON prev.week = (cur.week - INTERVAL 7 DAY)::DATE
        AND prev.tenant_id IS NOT DISTINCT FROM cur.tenant_id
        AND prev.workflow = cur.workflow AND prev.metric = cur.metric
    WHERE cur.requests >= $min_requests AND prev.requests >= $min_requests
),
shifts AS (
    SELECT week AS day, tenant_id, metric || '_shift' AS kind,
        workflow AS subject, observed, expected, 'warning' AS severity,
        metric || ' of workflow ' || workflow || ' in the week of ' || strftime(week, '%Y-%m-%d') || ': '
            || round(observed, 6) || ' vs ' || round(expected, 6) || ' the week before' AS detail
    FROM pairs
    WHERE CASE
        WHEN metric LIKE '%_rate' THEN abs(observed - expected) >= $rate_floor
            AND (expected = 0 OR abs(observed - expected) / expected >= $shift_threshold)
        ELSE expected > 0 AND abs(observed - expected) / expected >= $shift_threshold
    END
),
untagged_spend AS (
    SELECT day, tenant_id, 'untagged_spend' AS kind, 'workflow/app tags' AS subject,
        coalesce(usd_sum(CASE WHEN coalesce(workflow, '') = '' OR coalesce(app_id, '') = '' THEN cost_usd END), 0)
            / usd_sum(cost_usd) AS observed,
        $untagged_share::DOUBLE AS expected, 'warning' AS severity,
        'share of the day''s spend without a workflow or app tag' AS detail
    FROM marts.cost_daily
    WHERE tenant_id IS NOT NULL
    GROUP BY day, tenant_id
    HAVING usd_sum(cost_usd) > 0 AND observed > $untagged_share
),
prompt_versions AS (
    SELECT tenant_id, workflow, prompt_version, min(first_ts) AS first_seen, sum(requests)::BIGINT AS requests
    FROM meta.drift_daily
    WHERE coalesce(prompt_version, '') <> '' AND workflow IS NOT NULL
    GROUP BY ALL
),
prompt_version_change AS (
    SELECT first_seen::DATE AS day, tenant_id, 'prompt_version_change' AS kind, workflow AS subject,
        requests::DOUBLE AS observed, NULL::DOUBLE AS expected, 'info' AS severity,
        'prompt_version ' || prompt_version || ' of workflow ' || workflow || ' first seen '
            || strftime(first_seen, '%Y-%m-%d %H:%M:%S') || ' UTC (previous: ' || previous || ')' AS detail
    FROM (
        SELECT *, lag(prompt_version) OVER (
            PARTITION BY tenant_id, workflow ORDER BY first_seen, prompt_version
        ) AS previous
        FROM prompt_versions
    )
    WHERE previous IS NOT NULL
),
month_to_date AS (
    SELECT d.day, d.tenant_id, b.monthly_budget_usd,
        sum(d.cost) OVER (
            PARTITION BY d.tenant_id, date_trunc('month', d.day) ORDER BY d.day
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS mtd_cost_usd
    FROM (SELECT day, tenant_id, usd_sum(cost_usd) AS cost FROM marts.cost_daily GROUP BY ALL) AS d
    JOIN ref.budgets AS b ON b.tenant_id = d.tenant_id
),
budget_overrun AS (
    SELECT min(day) AS day, tenant_id, 'budget_overrun' AS kind, strftime(min(day), '%Y-%m') AS subject,
        arg_min(mtd_cost_usd, day) AS observed, any_value(monthly_budget_usd) AS expected, 'high' AS severity,
        'month-to-date spend exceeded the monthly budget on ' || strftime(min(day), '%Y-%m-%d') AS detail
    FROM month_to_date
    WHERE mtd_cost_usd > monthly_budget_usd
    GROUP BY tenant_id, date_trunc('month', day)
)
SELECT * FROM allowlist_violation
UNION ALL BY NAME SELECT * FROM unknown_policy_version
UNION ALL BY NAME SELECT * FROM policy_change
UNION ALL BY NAME SELECT * FROM shifts
UNION ALL BY NAME SELECT * FROM untagged_spend
UNION ALL BY NAME SELECT * FROM prompt_version_change
UNION ALL BY NAME SELECT * FROM budget_overrun
ORDER BY day, kind, tenant_id, subject;
