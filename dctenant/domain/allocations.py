"""The result of allocation: every tenant's envelope in every pool, and why it is that size.

An ``Allocation`` is a value: the plan command prints it, the renderers turn envelopes into
quotas, and the auditors' reports compare usage against it. ``as_dict`` is the stable JSON
form documented in docs/plan.md (quantities as decimal strings in base units).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from dctenant.domain import resources, tenants

DEMAND = "demand"
GUARANTEE = "guarantee"
LICENCE = "licence"


@dataclass(frozen=True, kw_only=True)
class PoolResource:
    """One resource of one pool after allocation."""

    key: str
    capacity: Decimal
    reserve: Decimal
    allocatable: Decimal
    allocated: Decimal
    saturated: bool

    @property
    def free(self) -> Decimal:
        return self.allocatable - self.allocated


@dataclass(frozen=True, kw_only=True)
class PoolAllocation:
    name: str
    resources: tuple[PoolResource, ...]
    guarantee_scale: Decimal  # 1 when every guarantee fits
    rounds: int


class UnitAmounts(Mapping[str, Decimal]):
    """Amounts held as whole units of each resource and turned into Decimals only when read.

    An allocation of 10,000 tenants holds hundreds of thousands of envelope amounts; most are
    never looked at one by one, so building every Decimal up front would be the allocator's
    largest cost. Reading is exact: ``counts[start + j] × units[j]``. ``counts`` may be one flat
    list shared by every tenant of a pool (each reading its own row from ``start``), so that a
    plan holds one list per pool rather than one per tenant.
    """

    __slots__ = ("_counts", "_index", "_start", "_units")

    def __init__(self, *, index: Mapping[str, int], units: Sequence[Decimal], counts: Sequence[int],
                 start: int = 0) -> None:
        """``index`` maps each key present to its position in ``units`` and in the row of ``counts``
        that begins at ``start`` (``index`` and ``counts`` may be shared)."""
        self._index = index
        self._units = units
        self._counts = counts
        self._start = start

    def __getitem__(self, key: str) -> Decimal:
        j = self._index[key]
        return Decimal(self._counts[self._start + j]) * self._units[j]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"UnitAmounts({dict(self)!r})"


@dataclass(frozen=True, kw_only=True, slots=True)
class Share:
    """A tenant's share of one pool: its demand, its envelope, and what stopped it growing."""

    pool: str
    demand: Mapping[str, Decimal]
    envelope: Mapping[str, Decimal]
    fraction: Decimal  # served fraction of the demand (exact, before rounding)
    weighted_share: Decimal  # dominant share divided by weight
    dominant: str  # the resource of which it asked the largest share of the pool
    limited_by: str  # DEMAND, GUARANTEE, LICENCE or the key of the saturated resource
    round: int  # the progressive-filling round in which it froze (0-based)

    @classmethod
    def quick(cls, *, pool: str, demand: Mapping[str, Decimal], envelope: Mapping[str, Decimal], fraction: Decimal,
              weighted_share: Decimal, dominant: str, limited_by: str, round: int) -> Share:
        """The same value as ``Share(...)``, built without the frozen ``__init__``'s per-field checks.

        The allocator builds one share per tenant and pool (tens of thousands per plan), and a frozen
        dataclass's ``__init__`` is most of that cost; the slots are set directly (``SHARE_SETTERS``).
        """
        share = object.__new__(cls)
        for setter, value in zip(SHARE_SETTERS, (pool, demand, envelope, fraction, weighted_share, dominant,
                                                 limited_by, round), strict=True):
            setter(share, value)
        return share

    @property
    def short(self) -> bool:
        """True when the envelope is below the demand on some resource."""
        return any(self.envelope.get(k, Decimal(0)) < v for k, v in self.demand.items())


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantAllocation:
    tenant: str
    licence: tenants.LicenceState
    weight: Decimal
    guaranteed: Decimal
    shares: Mapping[str, Share]

    @classmethod
    def quick(cls, *, tenant: str, licence: tenants.LicenceState, weight: Decimal, guaranteed: Decimal,
              shares: Mapping[str, Share]) -> TenantAllocation:
        """The same value as ``TenantAllocation(...)``, built as ``Share.quick`` is (one per tenant and plan)."""
        allocation = object.__new__(cls)
        for setter, value in zip(TENANT_SETTERS, (tenant, licence, weight, guaranteed, shares), strict=True):
            setter(allocation, value)
        return allocation

    @property
    def state(self) -> str:
        """``allocated``, ``grace`` (served but flagged) or ``suspended`` (not served)."""
        if self.licence is tenants.LicenceState.GRACE:
            return "grace"
        return "allocated" if self.licence.served else "suspended"


def _setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """The slot setters of a slotted dataclass's fields, in field order: the way to fill a frozen
    instance made by ``object.__new__`` (its ``__setattr__`` refuses), one C call per field."""
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


# Share's fields in order: pool, demand, envelope, fraction, weighted_share, dominant, limited_by, round.
SHARE_SETTERS = _setters(Share)
# TenantAllocation's fields in order: tenant, licence, weight, guaranteed, shares.
TENANT_SETTERS = _setters(TenantAllocation)


class ShareDraft:
    """A ``Share`` under construction: the same slots, settable by plain attribute stores.

    The allocator builds one share per tenant and pool (tens of thousands per plan). It fills a
    draft's slots (a plain store each, several times cheaper than a slot setter call) and then makes
    it a ``Share`` by assigning ``__class__``: Python allows that only between classes whose slots
    are the same names with the same layout (it raises TypeError otherwise, checked below at import),
    and the object is then a ``Share`` in every respect. Never hand out a draft.
    """

    __slots__ = ("demand", "dominant", "envelope", "fraction", "limited_by", "pool", "round", "weighted_share")
    pool: str
    demand: Mapping[str, Decimal]
    envelope: Mapping[str, Decimal]
    fraction: Decimal
    weighted_share: Decimal
    dominant: str
    limited_by: str
    round: int


class TenantAllocationDraft:
    """A ``TenantAllocation`` under construction, made one as ``ShareDraft`` becomes a ``Share``."""

    __slots__ = ("guaranteed", "licence", "shares", "tenant", "weight")
    tenant: str
    licence: tenants.LicenceState
    weight: Decimal
    guaranteed: Decimal
    shares: Mapping[str, Share]


def _check_drafts() -> None:
    """Fail at import, not in a plan, if a draft's slots ever drift from its value class's."""
    for draft, final in ((ShareDraft, Share), (TenantAllocationDraft, TenantAllocation)):
        if sorted(draft.__slots__) != sorted(f.name for f in fields(final)):
            raise TypeError(f"{draft.__name__} must have exactly the fields of {final.__name__} as slots")
        object.__new__(draft).__class__ = final  # raises TypeError where the layouts differ


_check_drafts()


@dataclass(frozen=True, kw_only=True)
class NamespaceQuota:
    """A staff-declared namespace's quota, scaled down where the envelope is smaller than the quotas."""

    tenant: str
    namespace: str
    pool: str
    requested: Mapping[str, Decimal]
    granted: Mapping[str, Decimal]

    @property
    def scaled(self) -> bool:
        return any(self.granted.get(k, Decimal(0)) < v for k, v in self.requested.items())


@dataclass(frozen=True, kw_only=True)
class Allocation:
    at: dt.date
    pools: Mapping[str, PoolAllocation]
    tenants: Mapping[str, TenantAllocation]
    namespaces: tuple[NamespaceQuota, ...]
    warnings: tuple[str, ...]

    @property
    def shortfall(self) -> bool:
        """True when any tenant gets less than its demand somewhere."""
        return any(s.short for t in self.tenants.values() for s in t.shares.values())

    def as_dict(self) -> dict[str, Any]:
        plain = resources.plain

        def amounts(values: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: plain(values[k]) for k in resources.ordered(values)}

        return {
            "kind": "AllocationPlan",
            "at": self.at.isoformat(),
            "pools": {
                name: {
                    r.key: {"capacity": plain(r.capacity), "reserve": plain(r.reserve),
                            "allocatable": plain(r.allocatable), "allocated": plain(r.allocated),
                            "free": plain(r.free)}
                    for r in pool.resources
                }
                for name, pool in self.pools.items()
            },
            "tenants": {
                tid: {
                    "state": t.state,
                    "licence": t.licence.value,
                    "weight": plain(t.weight),
                    "pools": {
                        s.pool: {"demand": amounts(s.demand), "envelope": amounts(s.envelope),
                                 "fraction": plain(s.fraction), "weightedShare": plain(s.weighted_share),
                                 "limitedBy": s.limited_by}
                        for s in t.shares.values()
                    },
                }
                for tid, t in self.tenants.items()
            },
            "namespaces": {
                ns.namespace: {"tenant": ns.tenant, "pool": ns.pool, "requested": amounts(ns.requested),
                               "granted": amounts(ns.granted), "scaled": ns.scaled}
                for ns in self.namespaces
            },
            "warnings": list(self.warnings),
        }
