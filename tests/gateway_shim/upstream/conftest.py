"""The clients are tested against the simulated provider: the same session fixtures as its own tests."""

from __future__ import annotations

from tests.gateway_shim.simulated_provider.conftest import _no_faults_left, provider

__all__ = ["_no_faults_left", "provider"]
