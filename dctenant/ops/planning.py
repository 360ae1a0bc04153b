"""``dctenant plan``: load the data centre, allocate it fairly, and explain the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dctenant.domain import allocations, quotas
from dctenant.engine import allocating
from dctenant.errors import InfeasibleError
from dctenant.loaders import loading
from dctenant.ops import increasing
from dctenant.render import explanations


@dataclass(frozen=True, kw_only=True)
class PlanResult:
    """The allocation plan, plus the model it was computed from (for names and explanations)."""

    model: quotas.Quotas
    allocation: allocations.Allocation
    explanation: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        """True when a tenant gets less than its demand or a warning was raised (``--exit-code`` → 3)."""
        return self.allocation.shortfall or bool(self.allocation.warnings)

    def as_dict(self) -> dict[str, Any]:
        data = self.allocation.as_dict()
        if self.explanation:
            data["explanation"] = list(self.explanation)
        return data


def allocate(model: quotas.Quotas, *, at: dt.date) -> allocations.Allocation:
    """Allocate an already loaded data centre as of ``at``."""
    return allocating.allocate(model.datacentre, tenants=model.tenants, policy=model.policy, at=at)


def plan(path: str, *, at: dt.date, explain: str | None = None, strict: bool = False) -> PlanResult:
    """Load ``path`` and allocate it; with ``strict``, guarantees that do not fit are an error."""
    # Approved quota increases live in the self-service database until exported to quotas/.
    model = increasing.with_approved(loading.load(path))
    allocation = allocate(model, at=at)
    if strict:
        squeezed = [p for p in allocation.pools.values() if p.guarantee_scale < 1]
        if squeezed:
            names = ", ".join(f"{p.name} ({p.guarantee_scale:.2%})" for p in squeezed)
            raise InfeasibleError(f"tier guarantees do not fit in pool(s) {names}; "
                                  "add capacity, lower the tiers' guarantees, or run without --strict")
    explanation = explanations.explain(model, allocation, explain) if explain else ()
    return PlanResult(model=model, allocation=allocation, explanation=explanation)
