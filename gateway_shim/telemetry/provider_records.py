"""Where the provider's own records are: Bedrock's invocation logs and the FOCUS billing export.

Each is a folder or ``s3://bucket/prefix`` (config ``reconciliation``), read through the lake's
``LakeLocation`` so local folders and S3 share one code path; unset, each lives inside the lake,
where ``aigw simulate`` writes the simulated provider's records.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_shim.config.models import Config
from gateway_shim.telemetry.storage import LakeLocation

INVOCATION_LOGS_IN_LAKE = "provider/invocation-logs"
BILLING_IN_LAKE = "provider/focus"


@dataclass(frozen=True)
class ProviderSources:
    invocation_logs: LakeLocation
    billing: LakeLocation


def provider_sources(config: Config, lake: LakeLocation) -> ProviderSources:
    """The two sources the config names, or their places inside ``lake``."""
    settings = config.reconciliation
    return ProviderSources(
        invocation_logs=_location(settings.invocation_logs, lake, INVOCATION_LOGS_IN_LAKE),
        billing=_location(settings.billing, lake, BILLING_IN_LAKE),
    )


def _location(url: str, lake: LakeLocation, in_lake: str) -> LakeLocation:
    if url.strip():
        return LakeLocation.parse(url, create=False)
    if lake.is_local:
        return LakeLocation.parse(lake.path(in_lake), create=False)
    return LakeLocation(url=f"{lake.url}/{in_lake}", filesystem=lake.filesystem, root=lake.path(in_lake))
