"""Upstream model providers: the simulated LLM (latency and fault models, the `aigw provider` server)
and the clients the gateway uses to call providers (`simulated`, `openai`, `bedrock`)."""
