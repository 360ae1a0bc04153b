"""The result of allocation: every tenant's envelope in every pool, and why it is that size.

An ``Allocation`` is a value: the plan command prints it, the renderers turn envelopes into
quotas, and the auditors' reports compare usage against it. ``as_dict`` is the stable JSON
form documented in docs/plan.md (quantities as decimal strings in base units).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence, ValuesView
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


ZERO = Decimal(0)


@contextlib.contextmanager
def uncollected() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while many values that form no cycles are built.

    An allocation of 10,000 tenants makes some 100,000 container objects (shares, envelopes,
    mappings) that all survive, and none of which forms a reference cycle. Left on, the collector
    runs a full pass over every live object (every loaded tenant included) each time a quarter more
    objects survive: two full passes per plan. Nothing is lost by holding it off: reference counting
    frees everything as usual, and the collector resumes, with the new objects in its youngest
    generation, as soon as they are built. A caller that had turned it off keeps it off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class PoolShares:
    """One pool's shares of its served tenants, held as columns; each ``Share`` is built when first read.

    An allocation of 10,000 tenants over 50 pools has some 35,000 shares. Built as objects up front
    they (with their envelopes, and the collector's pass over them) were about a third of the
    allocator's time, and most callers read a few. The columns hold everything a share is made of,
    exactly (whole units per resource, the reasons' codes); ``share`` builds the same ``Share`` the
    allocator used to build, and ``TenantAllocations`` keeps it, so that a share read twice is the
    same object. ``labels`` gives the six-decimal fraction and level of every member, worked out
    once for the whole pool, the first time a share of the pool is read.
    """

    __slots__ = ("_counts", "_dominant", "_ids", "_index", "_labelled", "_labels", "_limited_by", "_members", "_names",
                 "_round", "_rows", "_units", "pool")

    def __init__(self, *, pool: str, members: Sequence[tenants.Tenant], ids: Sequence[str], index: Mapping[str, int],
                 units: Sequence[Decimal], counts: Sequence[int], dominant: Sequence[int], limited_by: Sequence[int],
                 round: Sequence[int], names: Mapping[int, str],
                 labels: Callable[[], tuple[Sequence[Decimal], Sequence[Decimal]]]) -> None:
        """``members`` in row order, and their ``ids`` (read once by the caller: each read of a tenant
        object is a memory access that thousands of them make costly); ``index`` maps the pool's keys
        to their columns, whose units are ``units``; ``counts`` holds every member's row of whole
        units, flat; ``dominant`` and ``limited_by`` are codes that ``names`` spells (the keys by
        column, DEMAND, GUARANTEE)."""
        self.pool = pool
        self._members = members
        self._ids = ids
        self._index = index
        self._units = units
        self._counts = counts
        self._dominant = dominant
        self._limited_by = limited_by
        self._round = round
        self._names = names
        self._labels = labels
        self._labelled: tuple[Sequence[Decimal], Sequence[Decimal]] | None = None
        self._rows: dict[str, int] | None = None

    def _row_of(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {tid: i for i, tid in enumerate(self._ids)}
        return self._rows

    def share(self, tenant: str) -> Share:
        """The share of ``tenant`` (a served member), built from its row."""
        return self._shares([self._row_of()[tenant]])[0]

    def build_into(self, shares: Mapping[str, dict[str, Share]]) -> None:
        """Build the share of every member listed in ``shares`` and put it into that member's mapping."""
        ids, pool = self._ids, self.pool
        rows = [i for i, tid in enumerate(ids) if tid in shares]
        for i, share in zip(rows, self._shares(rows), strict=True):
            shares[ids[i]][pool] = share

    def _shares(self, rows: list[int]) -> list[Share]:
        """The shares of the members in ``rows``: slotted values filled as drafts (see ``ShareDraft``)."""
        if self._labelled is None:
            self._labelled = self._labels()
        fractions, levels = self._labelled
        pool, members, index, units, counts = self.pool, self._members, self._index, self._units, self._counts
        names, dominant, limited_by, rounds = self._names, self._dominant, self._limited_by, self._round
        width = len(index)
        new = object.__new__
        out: list[Share] = []
        for i in rows:
            asked = members[i].demand[pool]
            envelope = new(UnitAmounts)
            envelope._index = index if len(asked) == width else {k: j for k, j in index.items() if k in asked}
            envelope._units = units
            envelope._counts = counts
            envelope._start = i * width
            draft = new(ShareDraft)
            draft.pool = pool
            draft.demand = asked
            draft.envelope = envelope
            draft.fraction = fractions[i]
            draft.weighted_share = levels[i]
            draft.dominant = names[dominant[i]]
            draft.limited_by = names[limited_by[i]]
            draft.round = rounds[i]
            draft.__class__ = Share  # type: ignore[assignment]
            out.append(draft)  # type: ignore[arg-type]
        return out


class TenantAllocations(Mapping[str, TenantAllocation]):
    """Every tenant's allocation, in id order: the mapping ``Allocation.tenants`` of a plan.

    Each ``TenantAllocation`` (and its shares) is built the first time it is read, from the pools'
    columns (``PoolShares``), and then kept: reading it again gives the same object, and the values
    are exactly those the allocator computed (nothing is recomputed, only assembled). Shares are in
    the data centre's pool order; a tenant whose licence does not allow service gets an empty
    envelope, limited by ``LICENCE``, in every pool it asks for. Read from several threads at once, a
    value may be built twice (equal values; the last one is kept): nothing here is shared mutable
    state beyond that cache.
    """

    __slots__ = ("_built", "_pool_at", "_pools", "_states", "_tenants", "_tiers")

    def __init__(self, *, members: Mapping[str, tenants.Tenant], states: Mapping[str, tenants.LicenceState],
                 tiers: Mapping[str, tuple[Decimal, Decimal]], pools: Mapping[str, PoolShares]) -> None:
        """``members``: the tenants by id, in id order; ``tiers`` gives each tier's weight and guarantee;
        ``pools`` holds each pool's served tenants, in the data centre's order."""
        self._tenants = members
        self._states = states
        self._tiers = tiers
        self._pools = pools
        self._pool_at = {name: j for j, name in enumerate(pools)}
        self._built: dict[str, TenantAllocation] = {}

    def __getitem__(self, tenant: str) -> TenantAllocation:
        built = self._built.get(tenant)
        if built is None:
            built = self._built[tenant] = self._build(tenant)
        return built

    def __contains__(self, tenant: object) -> bool:
        return tenant in self._tenants

    def __iter__(self) -> Iterator[str]:
        return iter(self._tenants)

    def __len__(self) -> int:
        return len(self._tenants)

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def values(self) -> ValuesView[TenantAllocation]:
        self._build_all()
        return ValuesView(self)

    def items(self) -> ItemsView[str, TenantAllocation]:
        self._build_all()
        return ItemsView(self)

    def _build_all(self) -> None:
        """Build every allocation not read yet, pool by pool: what a caller that walks them all needs.

        The same values as one by one, built in one sweep per pool with the cyclic collector held off
        (see ``uncollected``): tens of thousands of new objects that form no cycles.
        """
        if len(self._built) == len(self._tenants):
            return
        with uncollected():
            built = self._built
            shares: dict[str, dict[str, Share]] = {
                tid: {} for tid, state in self._states.items() if state.served and tid not in built}
            for columns in self._pools.values():
                columns.build_into(shares)
            for tid in self._tenants:
                if tid not in built:
                    built[tid] = self._build(tid, shares.get(tid))

    def _build(self, tenant: str, shares: dict[str, Share] | None = None) -> TenantAllocation:
        t = self._tenants[tenant]
        state = self._states[tenant]
        if shares is None:  # else built by ``_build_all``, in the pools' order
            asked = sorted(t.demand, key=self._pool_at.__getitem__)
            if state.served:
                shares = {pool: self._pools[pool].share(tenant) for pool in asked}
            else:
                shares = {pool: Share(pool=pool, demand=t.demand[pool], envelope=dict.fromkeys(t.demand[pool], ZERO),
                                      fraction=ZERO, weighted_share=ZERO, dominant="", limited_by=LICENCE, round=0)
                          for pool in asked}
        draft = object.__new__(TenantAllocationDraft)
        draft.weight, draft.guaranteed = self._tiers[t.tier]
        draft.tenant = tenant
        draft.licence = state
        draft.shares = shares
        draft.__class__ = TenantAllocation  # type: ignore[assignment]
        return draft  # type: ignore[return-value]


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
