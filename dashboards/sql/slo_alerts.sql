-- Multi-window burn-rate alerts that fired with $1 <= day < $2, newest first.
SELECT
    fired_at, last_firing_at, latency_class, model_route, severity, long_window, short_window,
    burn_rate_threshold, peak_long_burn_rate, peak_short_burn_rate, evaluations, day
FROM marts.slo_alerts
WHERE day >= $1 AND day < $2
ORDER BY fired_at DESC, latency_class, model_route;
