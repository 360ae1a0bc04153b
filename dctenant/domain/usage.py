"""Measured usage, enforcement decisions and what the enforcer remembers between cycles.

Enforcement compares what tenants use (measured in Prometheus) with what they were given (the
allocation's envelopes). These values are shared by the Prometheus client that fills ``Usage``,
the pure engine that turns usage into ``Decision``s, and the state file that carries ``Memory``
across restarts, so that none of those layers has to know the others' representation.

Missing data is a first-class value here: an amount is ``None`` when it is unknown, never zero,
because treating an unreachable Prometheus as "nobody uses anything" would undo every action.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dctenant.domain import resources

LICENCE = "licence"
"""The pseudo-resource of licence decisions (warnings before expiry, suspension after)."""

UNDO = "undo-"
"""Prefix of the action that reverses an earlier one (``undo-throttle``)."""

# What Prometheus measures, by the source that exports it: a source that is down makes every
# measure it feeds unknown. Storage classes share one measure ("storage").
MEASURES = ("cpu", "memory", "nvidia.com/gpu", "storage", "bandwidth/egress", "bandwidth/ingress")


def measure(key: str) -> str:
    """The measure a resource key is read from (``storage/ssd`` → ``storage``)."""
    return "storage" if resources.kind(key) is resources.Kind.STORAGE else key


class State(enum.Enum):
    """Where a tenant stands on one resource (or its licence)."""

    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"
    UNKNOWN = "unknown"
    SUSPENDED = "suspended"


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One cycle's measurements, per namespace and resource key.

    ``seen`` holds the namespaces kube-state-metrics reports (they carry dctenant's quota): for
    those, an absent series means nothing is used. ``down`` maps a measure to why it cannot be
    read this cycle (its exporter is down, the query failed), ``gaps`` the same for one namespace
    (its cluster's exporter is down, or a value was not a number); ``error`` is set when Prometheus
    itself could not be asked, which makes everything unknown.
    """

    at: dt.datetime
    amounts: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()
    down: Mapping[str, str] = field(default_factory=dict)
    gaps: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (namespace, measure) → why unknown
    error: str = ""
    queries: int = 0

    def amount(self, namespace: str, key: str) -> Decimal | None:
        """What ``namespace`` uses of ``key``, or ``None`` when that is not known."""
        if self.missing(namespace, key):
            return None
        return self.amounts.get(namespace, {}).get(key, Decimal(0))

    def missing(self, namespace: str, key: str) -> str:
        """Why the amount is unknown, or ``""`` when it is known."""
        if self.error:
            return self.error
        read_from = measure(key)
        why = self.down.get(read_from) or self.gaps.get((namespace, read_from))
        if why:
            return why
        if namespace not in self.seen:
            return f"namespace {namespace} has no kube_resourcequota series (not seen by kube-state-metrics)"
        return ""


@dataclass(frozen=True, kw_only=True)
class Series:
    """Usage at every ``step`` over a window ending now, oldest first: Prometheus' own history.

    The last point is the current measurement. A point whose data was missing says so (its
    ``missing``), and a point that was never asked for is simply absent: either way the engine
    cannot claim that usage stayed over (or under) a threshold through it.
    """

    points: tuple[Usage, ...]
    step: int = 60  # seconds between points

    @property
    def latest(self) -> Usage:
        return self.points[-1]

    @property
    def queries(self) -> int:
        return self.latest.queries

    @staticmethod
    def of(*points: Usage, step: int = 60) -> Series:
        return Series(points=tuple(points), step=step)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What the enforcer concluded about one tenant, pool and resource, and the action it takes now.

    ``action`` is ``""`` when nothing is to be done this cycle; otherwise one of the policy's
    actions or ``undo-<action>``. ``level`` counts the actions in force after this decision.
    """

    tenant: str
    pool: str
    resource: str
    state: State
    usage: Decimal | None
    envelope: Decimal | None
    action: str
    reason: str
    level: int = 0

    def as_dict(self) -> dict[str, Any]:
        def amount(value: Decimal | None) -> str | None:
            return None if value is None else resources.plain(value)

        return {"tenant": self.tenant, "pool": self.pool, "resource": self.resource, "state": self.state.value,
                "usage": amount(self.usage), "envelope": amount(self.envelope),
                "action": self.action or "none", "reason": self.reason, "level": self.level}


@dataclass(frozen=True, kw_only=True)
class Track:
    """What the enforcer did about one tenant × pool × resource: the actions in force, oldest first.

    Only what was done is kept (to undo it, and to space escalations by the grace period): never a
    timer of usage. Whether usage has been over for ``sustainedFor`` or below for ``recoveryWindow``
    is read from Prometheus' history each cycle, so a dry run, a fresh process and a long-running
    loop decide alike.
    """

    warned: bool = False  # a warning notice was sent for the current episode
    taken: tuple[str, ...] = ()
    acted_at: dt.datetime | None = None  # when the newest action (or undo) was carried out

    @property
    def idle(self) -> bool:
        return self == Track()

    def as_dict(self) -> dict[str, Any]:
        return {"warned": self.warned, "taken": list(self.taken), "actedAt": _iso(self.acted_at)}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Track:
        """A saved track; the timers of version-1 files (``overSince``, ``belowSince``) are ignored."""
        return Track(warned=bool(data.get("warned")), taken=tuple(str(a) for a in data.get("taken") or ()),
                     acted_at=_time(data.get("actedAt")))


Key = tuple[str, str, str]  # tenant, pool, resource


@dataclass(frozen=True, kw_only=True)
class Memory:
    """Everything the engine remembers between cycles; idle tracks are left out."""

    tracks: Mapping[Key, Track] = field(default_factory=dict)

    def track(self, key: Key) -> Track:
        return self.tracks.get(key, Track())

    def held(self, tenant: str, pool: str) -> frozenset[str]:
        """The actions in force on a tenant in a pool, by any of its tracks (licence included)."""
        return frozenset(a for (t, p, _), track in self.tracks.items() if (t, p) == (tenant, pool)
                         for a in track.taken)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The engine's answer: the decisions of this cycle and the memory to keep for the next."""

    decisions: tuple[Decision, ...]
    memory: Memory

    @property
    def breach(self) -> bool:
        return any(d.state is State.BREACH for d in self.decisions)

    @property
    def unknown(self) -> bool:
        return any(d.state is State.UNKNOWN for d in self.decisions)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
