"""Tenants: the licensed messenger companies, their licences, demand and namespaces.

The licence state is derived here, from the licence and a date given by the caller (the
domain reads no clock), so that every layer agrees on who is active, warned, in grace or out.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dctenant.domain import policies, pools, quantities, resources


class LicenceStatus(enum.Enum):
    """The status the regulator recorded on the licence."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class LicenceState(enum.Enum):
    """The licence as of a given day: whether the tenant is served, and whether to warn."""

    ACTIVE = "active"
    EXPIRING = "expiring"  # active, expires within the warning period
    GRACE = "grace"  # expired, but within the grace days: still served, flagged
    EXPIRED = "expired"  # expired beyond grace: not served
    SUSPENDED = "suspended"
    REVOKED = "revoked"

    @property
    def served(self) -> bool:
        return self in (LicenceState.ACTIVE, LicenceState.EXPIRING, LicenceState.GRACE)


@dataclass(frozen=True, kw_only=True)
class Licence:
    number: str
    issued: dt.date
    expires: dt.date
    status: LicenceStatus

    def days_to_expiry(self, *, at: dt.date) -> int:
        """Days from ``at`` to expiry; negative once expired."""
        return (self.expires - at).days

    def state(self, *, at: dt.date, rules: policies.LicenceRules) -> LicenceState:
        if self.status is LicenceStatus.SUSPENDED:
            return LicenceState.SUSPENDED
        if self.status is LicenceStatus.REVOKED:
            return LicenceState.REVOKED
        days = self.days_to_expiry(at=at)
        if days < 0:
            return LicenceState.GRACE if -days <= rules.grace_days else LicenceState.EXPIRED
        if days <= rules.warning_days:
            return LicenceState.EXPIRING
        return LicenceState.ACTIVE


@dataclass(frozen=True, kw_only=True)
class Owners:
    """Who administers the tenant's namespaces (Kubernetes groups and users)."""

    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Namespace:
    """A namespace the staff declared for a tenant, with its own quota drawn from the envelope."""

    name: str
    pool: str
    quota: Mapping[str, Decimal]


@dataclass(frozen=True, kw_only=True)
class Tenant:
    """A messenger company: identity, tier, licence, owners, demand per pool, namespaces."""

    id: str
    display_name: pools.DisplayName
    tier: str
    licence: Licence
    owners: Owners
    demand: Mapping[str, Mapping[str, Decimal]]
    namespaces: tuple[Namespace, ...] = field(default_factory=tuple)
    # The DNS domains the tenant's Ingresses, Gateways and routes may serve (each with its subdomains).
    domains: tuple[str, ...] = ()
    # The tier's isolation with this tenant's overrides applied by the loader; None: the tier's as is.
    isolation: policies.Isolation | None = None
    # The demand per pool as plain numbers, derived once here for the allocator's hot loop.
    numbers: Mapping[str, quantities.Numbers] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", {
            p: quantities.Numbers.of(a, order=resources.ordered) for p, a in self.demand.items()})

    def isolation_under(self, policy: policies.Policy) -> policies.Isolation:
        """What this tenant's namespaces may hold: its own overrides, else its tier's isolation."""
        return self.isolation if self.isolation is not None else policy.isolation(self.tier)

    def namespace_total(self, pool: str) -> dict[str, Decimal]:
        """The sum of this tenant's namespace quotas in one pool."""
        total: dict[str, Decimal] = {}
        for ns in self.namespaces:
            if ns.pool == pool:
                for key, value in ns.quota.items():
                    total[key] = total.get(key, Decimal(0)) + value
        return total
