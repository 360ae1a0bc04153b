"""The whole of ``quotas/`` as one value: the data centre, its policy and its tenants."""

from __future__ import annotations

from dataclasses import dataclass

from dctenant.domain import policies, pools
from dctenant.domain import tenants as tenancy


@dataclass(frozen=True, kw_only=True)
class Quotas:
    datacentre: pools.DataCentre
    policy: policies.Policy
    tenants: tuple[tenancy.Tenant, ...]

    def tenant(self, tenant_id: str) -> tenancy.Tenant:
        for t in self.tenants:
            if t.id == tenant_id:
                return t
        raise KeyError(tenant_id)
