"""Observed need against envelope: the values of ``dctenant reclaim``.

An envelope a tenant never uses is capacity others were refused. Reclaim compares each envelope
with what the tenant was seen to need over a window and proposes a lower demand, never applying
it: staff turn a proposal into an edit of ``quotas/`` (or a what-if first) after talking to the
tenant. A need is ``None`` when Prometheus had no data for it — unknown, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

P95 = "p95"
PEAK = "peak"


@dataclass(frozen=True, kw_only=True)
class Method:
    """How need is estimated: a quantile for rates, the peak plus a margin for levels."""

    window_seconds: int = 14 * 86400
    step_seconds: int = 300
    quantile: Decimal = Decimal("0.95")  # cpu, GPUs and bandwidth
    margin: Decimal = Decimal("0.15")  # added to the peak of memory and storage
    min_idle: Decimal = Decimal("0.20")  # propose only when at least this fraction of the envelope is idle
    min_coverage: Decimal = Decimal("0.80")  # below this fraction of the window with data: no proposal


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What Prometheus showed of one tenant's resource in one pool over the window."""

    tenant: str
    pool: str
    resource: str
    statistic: str  # P95 or PEAK
    value: Decimal | None  # None: no data
    coverage: Decimal  # fraction of the window's steps that had a value (0 to 1)


@dataclass(frozen=True, kw_only=True)
class Row:
    tenant: str
    pool: str
    resource: str
    envelope: Decimal
    demand: Decimal
    statistic: str
    observed: Decimal | None
    need: Decimal | None  # observed with the margin, rounded up to the resource's unit
    coverage: Decimal
    proposed: Decimal | None  # a new demand, when enough is idle and the data covers the window
    held: str = ""  # why no proposal although enough looks idle: "partial data", "namespace quotas", "served fraction"

    @property
    def idle(self) -> Decimal | None:
        if self.need is None:
            return None
        return max(self.envelope - self.need, Decimal(0))

    @property
    def idle_ratio(self) -> Decimal | None:
        if self.idle is None or not self.envelope:
            return None
        return self.idle / self.envelope
