"""What-if changes to the data centre and their effect on every tenant's envelope, as values.

Staff ask "what would one more licensee, a lost pool or a new tier weight do to everyone?" before
they edit ``quotas/``. A ``Change`` is one edit of the model as written in a changes file; a
``Comparison`` is the plan before and after, reduced to what moved. Both are plain values so the
engine compares allocations without knowing files, and the CLI shows them without knowing YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ADD_TENANT = "addTenant"
REMOVE_TENANT = "removeTenant"
SET_TIER = "setTier"
SET_DEMAND = "setDemand"
SET_CAPACITY = "setCapacity"
ADD_POOL = "addPool"
REMOVE_POOL = "removePool"
SET_LICENCE = "setLicence"
OPERATIONS = (ADD_TENANT, REMOVE_TENANT, SET_TIER, SET_DEMAND, SET_CAPACITY, ADD_POOL, REMOVE_POOL, SET_LICENCE)


@dataclass(frozen=True, kw_only=True)
class Change:
    """One edit: the operation, its argument as written, and where it was written (for errors)."""

    op: str
    argument: Any
    location: str  # "changes.yaml:12 spec.changes[3]"

    def describe(self) -> str:
        arg = self.argument
        if isinstance(arg, Mapping):
            names = [f"{k}={arg[k]}" for k in ("name", "tenant", "pool") if isinstance(arg.get(k), str)]
            if self.op == ADD_TENANT:
                meta = arg.get("metadata")
                names = [f"name={meta.get('name')}"] if isinstance(meta, Mapping) else names
            elif self.op == ADD_POOL:
                names = [f"name={arg.get('name')}"]
            return f"{self.op} {' '.join(names)}".strip()
        return f"{self.op} {arg}"


@dataclass(frozen=True, kw_only=True)
class EnvelopeChange:
    """A tenant's envelope of one resource in one pool, before and after (``None``: no envelope there)."""

    tenant: str
    pool: str
    resource: str
    before: Decimal | None
    after: Decimal | None

    @property
    def delta(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def ratio(self) -> Decimal | None:
        """The change as a fraction of the envelope before; ``None`` when there was none before."""
        if not self.before:
            return None
        return self.delta / self.before


@dataclass(frozen=True, kw_only=True)
class GuaranteeMiss:
    """A served tenant that gets less than its tier's guaranteed fraction of its demand in a pool."""

    tenant: str
    pool: str
    resources: tuple[str, ...]
    new: bool  # True when it was not below its guarantee before the change


@dataclass(frozen=True, kw_only=True)
class StateChange:
    tenant: str
    before: str | None  # None: the tenant did not exist
    after: str | None


@dataclass(frozen=True, kw_only=True)
class Comparison:
    envelopes: tuple[EnvelopeChange, ...]
    below_guarantee: tuple[GuaranteeMiss, ...]
    states: tuple[StateChange, ...]
    losers: tuple[str, ...]  # tenants that lost envelope, the largest relative loss first
