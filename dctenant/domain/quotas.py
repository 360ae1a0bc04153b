"""The whole of ``quotas/`` as one value: the data centre, its policy and its tenants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dctenant.domain import policies, pools
from dctenant.domain import tenants as tenancy


@dataclass(frozen=True, kw_only=True)
class Quotas:
    datacentre: pools.DataCentre
    policy: policies.Policy
    tenants: tuple[tenancy.Tenant, ...]
    # The files as read, by path relative to the quotas directory (``tenants/bale.yaml``), for
    # consumers that must hand on the very text that was reviewed: the in-cluster enforcer's
    # ConfigMap. Empty for a model built in code. Not part of equality: the model is the meaning.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def tenant(self, tenant_id: str) -> tenancy.Tenant:
        for t in self.tenants:
            if t.id == tenant_id:
                return t
        raise KeyError(tenant_id)
