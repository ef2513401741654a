"""The provider's side of the upstream wire: the simulated LLM (latency and fault models) and the
`aigw provider` server that speaks the OpenAI and Bedrock Converse wires."""
