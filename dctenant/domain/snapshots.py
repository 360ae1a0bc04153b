"""Usage history: per-tenant rollups of a period, kept after Prometheus has dropped the raw data.

``dctenant snapshot`` computes these from Prometheus and the ledger database keeps them
(``clients.snapshot_db``); the usage and traffic reports read only these, so a report on any past
month can be produced (and reproduced) long after the metrics' retention. A snapshot is keyed by
its calendar and its exact ``[start, end)`` instants, never by the label the user typed, and
re-taking one adds a new version beside the old: a report names the version it read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Statistics of a rate or level over the covered part of the period (cores, bytes, bits per second).
AVERAGE = "avg"
P95 = "p95"
MAXIMUM = "max"
# The maximum of one day of the report's calendar and time zone (``day`` set, the day's ISO date):
# the input of "days over envelope". A day without a row had no data.
DAY_MAXIMUM = "day-max"
# A total over the period: traffic bytes, from ``increase``.
TOTAL = "total"
# The fraction (0..1) of the period's evaluation steps at which the measure had data.
COVERAGE = "coverage"

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
    """One stored version of a period's rollups: where they came from and the digest the ledger recorded."""

    id: int  # unique in the database, across periods and versions
    label: str
    calendar: str
    zone: str
    start: dt.datetime
    end: dt.datetime
    version: int  # 1 for the first snapshot of this calendar and range, then 2, 3 … (older ones kept)
    taken_at: dt.datetime
    source: str
    rows: int
    digest: str
    seq: int  # the ledger event that recorded this snapshot
    partial: bool = False  # evaluated before the period ended
    evaluated_until: dt.datetime | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)  # step, windows, selectors, version …

    @property
    def period_key(self) -> tuple[str, dt.datetime, dt.datetime]:
        return (self.calendar, self.start, self.end)
