"""One pool's stack: read the stack's settings, describe the pool through dctenant, declare it.

``main`` is what ``__main__.py`` runs; ``build`` is the same work given explicit settings, which the
tests call under Pulumi's mocks. Nothing happens at import time.

Settings (``Pulumi.<pool>.yaml``, keys of the ``dctenant-datacentre`` namespace):
``context`` and ``clusterIdentifier`` for the one Kubernetes provider, ``quotas`` (relative to this
project's directory; ``$DCTENANT_QUOTAS`` wins, which is how ``dctenant stack PATH`` passes its
PATH), ``protect``, ``prometheusOperator`` (default true: the rules as a PrometheusRule, otherwise
as a ConfigMap), ``respectEnforcement`` (default true) and optionally ``pool`` (default: the stack's
name) and ``at`` (default: today).

Enforcement: before declaring anything, the program asks the pool's cluster (``stacking.held_objects``,
through the stack's kubeconfig context) which quotas and bandwidth ConfigMaps the enforcer has
marked, and declares those with ``ignore_changes`` on their held map, so that neither ``preview``
reports the enforced values as drift nor ``up`` writes the rendered ones back. A cluster that
cannot be read stops the program: carrying on would revert enforcement. ``respectEnforcement:
false`` skips the lookup, so an ``up`` writes the rendered values (a deliberate release). The
lookup is a parameter of ``main``/``build``; the tests pass a fake.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from dctenant.errors import DctenantError
from dctenant.loaders import loading
from dctenant.ops import stacking
from dctenant_stack import components

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_QUOTAS = "../../quotas"


@dataclass(frozen=True, kw_only=True)
class Settings:
    pool: str
    context: str
    cluster_identifier: str
    quotas: pathlib.Path
    protect: bool
    at: dt.date
    prometheus_operator: bool = True
    respect_enforcement: bool = True


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """What ``build`` declared, for the tests and for exporting the outputs."""

    description: stacking.PoolStack
    provider: k8s.Provider
    cluster: components.Cluster
    tenants: dict[str, components.TenantNamespaces]
    monitoring: components.Monitoring
    held: tuple[stacking.HeldObject, ...] = ()

    @property
    def outputs(self) -> dict[str, Any]:
        """The description's outputs and ``held``: the objects declared with their held map ignored."""
        return {**self.description.outputs(), "held": [h.as_dict() for h in self.held]}


def settings() -> Settings:
    """The running stack's settings from its configuration and the environment."""
    config = pulumi.Config()
    raw_quotas = os.environ.get(loading.ENVIRONMENT) or config.get("quotas") or DEFAULT_QUOTAS
    at = config.get("at")
    return Settings(
        pool=config.get("pool") or pulumi.get_stack(),
        context=config.require("context"),
        cluster_identifier=config.require("clusterIdentifier"),
        # Relative to the project, not to wherever pulumi (or a test) was started from.
        quotas=PROJECT_DIR / raw_quotas,
        protect=config.get_bool("protect") or False,
        at=dt.date.fromisoformat(at) if at else dt.date.today(),
        prometheus_operator=config.get_bool("prometheusOperator") is not False,
        respect_enforcement=config.get_bool("respectEnforcement") is not False,
    )


def held(config: Settings, lookup: stacking.HeldLookup) -> tuple[stacking.HeldObject, ...]:
    """What enforcement holds in the pool's cluster; nothing when ``respectEnforcement`` is false.

    Failing to find out is an error, never "nothing is held": that would revert enforcement.
    """
    if not config.respect_enforcement:
        return ()
    try:
        return tuple(lookup(config.context))
    except DctenantError as exc:
        raise pulumi.RunError(
            f"cannot read which objects dctenant's enforcer holds in pool {config.pool} (context "
            f"{config.context}): {exc}. Without that the stack would write the rendered quotas back over "
            "enforcement, so it stops here. Make the cluster reachable, or, to release enforcement on "
            "purpose, run: pulumi config set respectEnforcement false") from None


def build(config: Settings, *, lookup: stacking.HeldLookup = stacking.held_objects) -> Deployment:
    """Declare the pool's provider, its ``Cluster``, one ``TenantNamespaces`` per tenant and ``Monitoring``.

    Objects ``lookup`` reports as held by enforcement are declared with their held map ignored.
    """
    description = stacking.load(config.quotas, pool=config.pool, at=config.at,
                                prometheus_operator=config.prometheus_operator)
    declared = {(m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])
                for m in description.manifests}
    holds = tuple(h for h in held(config, lookup) if h.key in declared)
    ignore = {h.key: h.fields for h in holds}
    # clusterIdentifier alone decides when the provider (and so every resource) is replaced: a
    # renamed context or a rotated kubeconfig is an update of the provider, not a new cluster.
    provider = k8s.Provider(config.pool, context=config.context, cluster_identifier=config.cluster_identifier)
    cluster = components.Cluster("cluster", description.cluster, provider=provider, protect=config.protect,
                                 ignore=ignore)
    tenants = {
        t.tenant: components.TenantNamespaces(t.tenant, t.manifests, provider=provider, protect=config.protect,
                                              outputs=t.outputs(), ignore=ignore, admission=cluster.admission)
        for t in description.tenants
    }
    monitoring = components.Monitoring("monitoring", description.monitoring, provider=provider,
                                       protect=config.protect, ignore=ignore)
    for hold in holds:
        pulumi.log.info(f"{hold.kind} {hold.namespace}/{hold.name} is held by enforcement ({hold.action}) "
                        f"since {hold.since or 'an unknown time'}: {', '.join(hold.fields)} left as enforced")
    for warning in description.warnings:
        pulumi.log.warn(warning)
    return Deployment(description=description, provider=provider, cluster=cluster, tenants=tenants,
                      monitoring=monitoring, held=holds)


def main(lookup: stacking.HeldLookup = stacking.held_objects) -> None:
    deployment = build(settings(), lookup=lookup)
    for name, value in deployment.outputs.items():
        pulumi.export(name, value)
