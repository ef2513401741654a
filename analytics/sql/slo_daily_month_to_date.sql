-- marts.slo_daily's error budget remaining, over the calendar month to date (the SLO window), for
-- the months of $days (NULL: every month): it depends on every earlier day of the month, so a
-- changed day changes the later days of its month too. Computed from the mart's own exact counts.
UPDATE marts.slo_daily AS s
SET error_budget_remaining_pct = m.error_budget_remaining_pct
FROM (
    SELECT
        day, latency_class, model_route,
        100 * (1 - sum(errors) OVER w / nullif((1 - availability_target) * sum(ok + errors) OVER w, 0))
            AS error_budget_remaining_pct
    FROM marts.slo_daily
    WHERE $days::DATE[] IS NULL
       OR list_contains(list_transform($days::DATE[], lambda d: date_trunc('month', d)), date_trunc('month', day))
    WINDOW w AS (
        PARTITION BY latency_class, model_route, date_trunc('month', day)
        ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
) AS m
WHERE s.day = m.day
  AND s.latency_class IS NOT DISTINCT FROM m.latency_class
  AND s.model_route IS NOT DISTINCT FROM m.model_route;
