"""Pure policy decisions: keys, allowlists, rate limits, budgets, guardrails, cost, token estimates."""
