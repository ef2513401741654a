"""aigw: the command line that fronts the gateway, the pipelines, the dashboard and the load tests."""
