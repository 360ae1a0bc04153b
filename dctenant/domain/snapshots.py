"""Usage history: per-tenant rollups of a period, kept after Prometheus has dropped the raw data.

``dctenant snapshot`` computes these from Prometheus and the ledger database keeps them; the
usage and traffic reports read only these, so a report on any past month can be produced (and
reproduced) long after the metrics' retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Statistics of a rate or level over the period (cores, bytes, bits per second).
AVERAGE = "avg"
P95 = "p95"
MAXIMUM = "max"
# The maximum of one UTC day (``day`` set): the input of "days over envelope".
DAY_MAXIMUM = "day-max"
# A total over the period: traffic bytes, from ``increase``.
TOTAL = "total"
STATS = (AVERAGE, P95, MAXIMUM, DAY_MAXIMUM, TOTAL)

# Traffic totals are stored under these keys (bytes), next to the bandwidth rates (bits per second).
TRAFFIC_EGRESS = "traffic/egress"
TRAFFIC_INGRESS = "traffic/ingress"


@dataclass(frozen=True, kw_only=True)
class Rollup:
    """One figure of one tenant: e.g. the p95 of ``cpu`` in pool ``thr-ab`` over ``2026-10``."""

    tenant: str
    pool: str
    resource: str
    stat: str
    value: str  # a decimal string in base units, exact as stored
    day: str = ""  # ISO day for DAY_MAXIMUM, empty otherwise

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.tenant, self.pool, self.resource, self.stat, self.day)


@dataclass(frozen=True, kw_only=True)
class SnapshotInfo:
    """Where a stored period's rollups came from and the digest the ledger recorded for them."""

    period: str
    start: dt.datetime
    end: dt.datetime
    taken_at: dt.datetime
    source: str
    rows: int
    digest: str
    seq: int  # the ledger event that recorded this snapshot
