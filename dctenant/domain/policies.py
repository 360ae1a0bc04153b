"""The data centre's rules: tiers (weights and guarantees), licence rules, rounding, enforcement.

Kept apart from the data centre's capacity because the policy changes for different reasons
(a regulator's decision) than the hardware does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dctenant.domain import resources

ACTIONS = ("notify", "throttle", "scale-down", "suspend")

DEFAULT_GRANULARITY: Mapping[resources.Kind, Decimal] = {
    resources.Kind.CPU: Decimal("0.001"),
    resources.Kind.MEMORY: Decimal(2**20),
    resources.Kind.STORAGE: Decimal(2**20),
    resources.Kind.BANDWIDTH: Decimal(10**6),
    resources.Kind.GPU: Decimal(1),
}


POD_SECURITY_LEVELS = ("restricted", "baseline")  # "privileged" is refused: it voids every other limit
SERVICE_TYPES = ("LoadBalancer", "NodePort", "ExternalName")  # ClusterIP is always allowed
# Taints every pod tolerates without asking: the DefaultTolerationSeconds admission plugin adds these
# two (NoExecute, 300 s) to every pod before validating admission runs.
DEFAULT_TOLERATIONS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
GPU_TAINT = "nvidia.com/gpu"  # tolerated only by tenants with a GPU envelope in the pool


@dataclass(frozen=True, kw_only=True)
class ObjectCounts:
    """Object counts per namespace in the ResourceQuota, so no kind can be flooded.

    ``load_balancers`` and ``node_ports`` only matter where the service type is allowed; where it
    is not, the quota is rendered as 0 whatever is written here.
    """

    pods: int = 500
    services: int = 50
    load_balancers: int = 0
    node_ports: int = 0
    secrets: int = 200
    config_maps: int = 200
    persistent_volume_claims: int = 100


@dataclass(frozen=True, kw_only=True)
class Isolation:
    """What a tenant's namespaces may hold beyond quantities (``isolation`` of a tier or a tenant).

    Every field has a safe default: the restricted Pod Security level, ClusterIP services only,
    no ingress or gateway class, no priority or runtime class, no node selector, only the default
    tolerations (``DEFAULT_TOLERATIONS``), any image registry (an empty ``registries`` means no allow-list).
    """

    pod_security: str = "restricted"
    objects: ObjectCounts = field(default_factory=ObjectCounts)
    ephemeral_storage: Decimal = Decimal(50 * 2**30)  # per namespace: requests and limits of ephemeral storage
    service_types: tuple[str, ...] = ()
    ingress_classes: tuple[str, ...] = ()
    gateway_classes: tuple[str, ...] = ()
    priority_classes: tuple[str, ...] = ()
    runtime_classes: tuple[str, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[str, ...] = ()  # taint keys tolerated beyond DEFAULT_TOLERATIONS (always allowed)
    registries: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Tier:
    """A class of tenant: its weight in fair sharing, the fraction of its demand it is guaranteed, its isolation."""

    name: str
    weight: Decimal
    guaranteed: Decimal
    description: str = ""
    isolation: Isolation = field(default_factory=Isolation)


@dataclass(frozen=True, kw_only=True)
class LicenceRules:
    """How many days before expiry to warn, and how many after expiry a tenant is still served."""

    warning_days: int = 30
    grace_days: int = 14


@dataclass(frozen=True, kw_only=True)
class Enforcement:
    """Thresholds of metrics-based enforcement (used by ``dctenant enforce``); durations in seconds."""

    warning_at: Decimal = Decimal("0.8")
    breach_at: Decimal = Decimal(1)
    sustained_for: int = 600
    grace_period: int = 1800
    recovery_window: int = 900
    actions: tuple[str, ...] = ACTIONS


@dataclass(frozen=True, kw_only=True)
class SecretRef:
    """One key of a Kubernetes Secret in dctenant's system namespace (credentials never live in quotas/)."""

    name: str
    key: str


@dataclass(frozen=True, kw_only=True)
class Enforcer:
    """The in-cluster ``dctenant enforce`` CronJob of each pool (``spec.kubernetes.enforcer``).

    Without ``prometheus_url`` no enforcer is rendered: it cannot measure anything. ``ledger`` is
    a ledger URL or path, ``ledger_secret`` a Secret key holding one (for PostgreSQL with a
    password); with neither, the ledger is SQLite on the enforcer's state volume.
    ``environment_secret`` names an optional Secret whose keys become the enforcer's environment
    (``DCTENANT_PROMETHEUS_TOKEN``, ``DCTENANT_WEBHOOK`` …).
    """

    prometheus_url: str = ""
    image: str = "ghcr.io/dctenant/dctenant:0.1.0"
    schedule: str = "*/5 * * * *"
    ledger: str = ""
    ledger_secret: SecretRef | None = None
    state_size: Decimal = Decimal(2**30)
    storage_class: str = ""
    environment_secret: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.prometheus_url)


@dataclass(frozen=True, kw_only=True)
class Namespaces:
    """How tenant namespaces are rendered in Kubernetes (``spec.kubernetes`` of the policy).

    ``limits_ratio`` turns a quota's requests into its limits (``limits.cpu = requests.cpu × 2``);
    ``max_per_pod`` is the share of a namespace's quota that one pod may take (LimitRange maximum
    and the bandwidth admission policy's per-pod maximum). ``enforcer`` describes the in-cluster
    enforcement CronJob rendered into each pool's system namespace.
    """

    limits_ratio: Mapping[str, Decimal] = field(default_factory=lambda: {"cpu": Decimal(2), "memory": Decimal(1)})
    default_request: Mapping[str, Decimal] = field(
        default_factory=lambda: {"cpu": Decimal("0.1"), "memory": Decimal(128 * 2**20)})
    default_limit: Mapping[str, Decimal] = field(
        default_factory=lambda: {"cpu": Decimal("0.5"), "memory": Decimal(512 * 2**20)})
    default_ephemeral: Decimal = Decimal(2**30)  # LimitRange default limit of ephemeral storage a container
    default_ephemeral_request: Decimal = Decimal(256 * 2**20)
    # LimitRange minimum per container: a pod that asks for (nearly) nothing cannot flood a node.
    min_per_container: Mapping[str, Decimal] = field(
        default_factory=lambda: {"cpu": Decimal("0.01"), "memory": Decimal(16 * 2**20)})
    max_per_pod: Decimal = Decimal("0.5")
    pod_security_version: str = "v1.30"  # the Pod Security Standards release the levels are pinned to
    monitoring_namespace: str = "monitoring"
    system_namespace: str = "dctenant-system"
    enforcer: Enforcer = field(default_factory=Enforcer)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Everything in ``quotas/policy.yaml``."""

    name: str
    tiers: Mapping[str, Tier]
    licences: LicenceRules = field(default_factory=LicenceRules)
    granularity: Mapping[resources.Kind, Decimal] = field(default_factory=lambda: dict(DEFAULT_GRANULARITY))
    enforcement: Enforcement = field(default_factory=Enforcement)
    kubernetes: Namespaces = field(default_factory=Namespaces)

    def isolation(self, tier: str) -> Isolation:
        """The isolation of a tier; the defaults for a tier the policy does not declare (code-built models)."""
        found = self.tiers.get(tier)
        return found.isolation if found is not None else Isolation()

    def unit(self, key: str) -> Decimal:
        """The rounding unit of a resource key (a millicore, a MiB, an Mbit/s, a GPU by default)."""
        return self.granularity.get(resources.kind(key), DEFAULT_GRANULARITY[resources.kind(key)])
