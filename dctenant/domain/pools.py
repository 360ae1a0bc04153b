"""The data centre and its pools: what exists, and how much of it can be handed out.

A pool is one site's Kubernetes cluster. Its *allocatable* amount of a resource is what the
allocator may divide among tenants: ``capacity × overcommit − reserve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dctenant.domain import resources


@dataclass(frozen=True, kw_only=True)
class DisplayName:
    """A name for people, in English and Persian."""

    en: str
    fa: str


@dataclass(frozen=True, kw_only=True)
class StorageClass:
    """A Kubernetes storage class the data centre offers."""

    name: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Pool:
    """One site's cluster: its capacity, platform reserve and overcommit per resource.

    ``reserve`` holds absolute amounts (a percentage in ``quotas/`` is resolved by the loader
    against the capacity); ``overcommit`` holds ratios >= 1 (missing means 1).
    """

    name: str
    site: str
    context: str
    capacity: Mapping[str, Decimal]
    reserve: Mapping[str, Decimal] = field(default_factory=dict)
    overcommit: Mapping[str, Decimal] = field(default_factory=dict)
    cluster: str = ""  # value of the data centre's cluster label on this pool's series ("" = the pool's name)

    @property
    def cluster_value(self) -> str:
        """The value this pool's series carry in the cluster label (``cluster`` unless set: the pool's name)."""
        return self.cluster or self.name

    @property
    def resources(self) -> tuple[str, ...]:
        """The resources this pool has, in reading order."""
        return resources.ordered(self.capacity)

    def has(self, key: str) -> bool:
        return key in self.capacity

    def allocatable(self, key: str) -> Decimal:
        """``capacity × overcommit − reserve``, never below zero; zero for a resource the pool lacks."""
        if key not in self.capacity:
            return Decimal(0)
        value = self.capacity[key] * self.overcommit.get(key, Decimal(1)) - self.reserve.get(key, Decimal(0))
        return max(value, Decimal(0))


CADVISOR_EGRESS = ""
"""The default egress source: cAdvisor's transmit counters, all traffic (an upper bound of egress)."""


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """How this data centre's usage is read from Prometheus (``spec.prometheus`` in datacentre.yaml).

    ``cluster_label`` is the label that tells pools apart on a shared query endpoint (Thanos Query,
    Mimir, a federating Prometheus); every query, rule and dashboard filters by it. Empty: each pool
    has its own endpoint and its series carry no such label. ``egress`` is a PromQL selector of a
    byte counter of traffic leaving the data centre, labelled by namespace (Cilium/Hubble flows to
    ``world``, egress-gateway counters); empty means cAdvisor's transmit counters (all traffic).
    """

    cluster_label: str = "cluster"
    egress: str = CADVISOR_EGRESS


@dataclass(frozen=True, kw_only=True)
class DataCentre:
    """The whole data centre: its storage classes and pools."""

    name: str
    display_name: DisplayName
    storage_classes: tuple[StorageClass, ...]
    pools: tuple[Pool, ...]
    metrics: Metrics = field(default_factory=Metrics)

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def pool_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools)
