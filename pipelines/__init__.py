"""Dagster pipelines: lake → raw.events → marts. ``dg dev`` finds ``defs`` here."""

from pipelines.definitions import defs

__all__ = ["defs"]
