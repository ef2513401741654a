"""Pure routing: route selection, circuit breakers, lane saturation, degrade."""
