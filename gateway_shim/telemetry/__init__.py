"""Telemetry: the event schema (the contract) and the lake writer that never loses an event."""
