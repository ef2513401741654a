"""Event dimensions a refused request may carry: values from the config, or ``invalid``.

A refused request's event (and so its metric labels and its mart rows) would otherwise copy
whatever the client put in ``x-aigw-*``: random values from a client without a key would add a
label value and a mart row each (issue 13). So a refusal's dimensions are bounded here:

* lane, sensitivity and model asked for are kept only if the config names them;
* the app is kept only if it is one of the tenant's apps;
* free-form dimensions (workflow, user, budget class, prompt version, run id) are kept only when the
  key named a tenant: without one nobody is accountable for them;
* a load-test run id the caller may not send (``load_test_not_allowed``) is not kept either: it would
  put the refusal among load-test traffic (``policy/load_tests.py``).

Anything else becomes ``INVALID``. Admitted requests need none of this: admission already refuses
unknown lanes, sensitivities and models.
"""

from __future__ import annotations

import dataclasses

from gateway_shim.config.models import Config
from gateway_shim.policy.load_tests import LOAD_TEST_NOT_ALLOWED
from gateway_shim.types import Rejection, RequestContext

INVALID = "invalid"
AUTO_MODELS = frozenset({"", "auto", "default", "aigw"})


class Dimensions:
    """The config's known values, and ``bound`` to apply them to a refusal."""

    def __init__(self, config: Config) -> None:
        self._lanes = frozenset(config.lanes)
        self._sensitivities = frozenset(config.data_classes)
        models = set(AUTO_MODELS) | set(config.pricing)
        for route in config.routes.values():
            models.update(name for target in route.targets for name in (target.key, target.model))
        self._models = frozenset(models)
        self._apps = {tenant_id: frozenset(tenant.apps) for tenant_id, tenant in config.tenants.items()}

    def bound(self, ctx: RequestContext, rejection: Rejection) -> tuple[RequestContext, Rejection]:
        """``ctx`` and ``rejection`` with every dimension a known value, ``INVALID`` or None."""
        tenant = rejection.tenant_id
        known = tenant is not None
        apps = self._apps.get(tenant, frozenset()) if tenant is not None else frozenset()
        bounded = dataclasses.replace(
            ctx,
            latency_class=_known(ctx.latency_class, self._lanes),
            sensitivity=_known(ctx.sensitivity, self._sensitivities),
            model_requested=ctx.model_requested if ctx.model_requested in self._models else INVALID,
            app_id=_known(ctx.app_id, apps),
            workflow=ctx.workflow if known else _known(ctx.workflow, frozenset()),
            user_id=ctx.user_id if known else _known(ctx.user_id, frozenset()),
            budget_class=ctx.budget_class if known else _known(ctx.budget_class, frozenset()),
            prompt_version=ctx.prompt_version if known else _known(ctx.prompt_version, frozenset()),
            run_id=ctx.run_id if known and rejection.code != LOAD_TEST_NOT_ALLOWED
            else _known(ctx.run_id, frozenset()),
        )
        refused = dataclasses.replace(
            rejection,
            lane=_known(rejection.lane, self._lanes),
            sensitivity=_known(rejection.sensitivity, self._sensitivities),
        )
        return bounded, refused


def _known(value: str | None, allowed: frozenset[str]) -> str | None:
    if value is None:
        return None
    return value if value in allowed else INVALID
