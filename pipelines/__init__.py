"""Dagster pipelines: lake → raw.events → marts. ``dagster dev -m pipelines`` finds ``defs`` here."""

from pipelines.definitions import defs

__all__ = ["defs"]
