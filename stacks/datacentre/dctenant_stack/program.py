"""One pool's stack: read the stack's settings, describe the pool through dctenant, declare it.

``main`` is what ``__main__.py`` runs; ``build`` is the same work given explicit settings, which the
tests call under Pulumi's mocks. Nothing happens at import time.

Settings (``Pulumi.<pool>.yaml``, keys of the ``dctenant-datacentre`` namespace):
``context`` and ``clusterIdentifier`` for the one Kubernetes provider, ``quotas`` (relative to this
project's directory; ``$DCTENANT_QUOTAS`` wins, which is how ``dctenant stack PATH`` passes its
PATH), ``protect``, ``prometheusOperator`` (default true: the rules as a PrometheusRule, otherwise
as a ConfigMap), and optionally ``pool`` (default: the stack's name) and ``at`` (default: today).
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from dctenant.loaders import quotas as quota_loader
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


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """What ``build`` declared, for the tests and for exporting the outputs."""

    description: stacking.PoolStack
    provider: k8s.Provider
    cluster: components.Cluster
    tenants: dict[str, components.TenantNamespaces]
    monitoring: components.Monitoring

    @property
    def outputs(self) -> dict[str, Any]:
        return self.description.outputs()


def settings() -> Settings:
    """The running stack's settings from its configuration and the environment."""
    config = pulumi.Config()
    raw_quotas = os.environ.get(quota_loader.ENVIRONMENT) or config.get("quotas") or DEFAULT_QUOTAS
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
    )


def build(config: Settings) -> Deployment:
    """Declare the pool's provider, its ``Cluster``, one ``TenantNamespaces`` per tenant and ``Monitoring``."""
    description = stacking.load(config.quotas, pool=config.pool, at=config.at,
                                prometheus_operator=config.prometheus_operator)
    # clusterIdentifier alone decides when the provider (and so every resource) is replaced: a
    # renamed context or a rotated kubeconfig is an update of the provider, not a new cluster.
    provider = k8s.Provider(config.pool, context=config.context, cluster_identifier=config.cluster_identifier)
    cluster = components.Cluster("cluster", description.cluster, provider=provider, protect=config.protect)
    tenants = {
        t.tenant: components.TenantNamespaces(t.tenant, t.manifests, provider=provider, protect=config.protect,
                                              outputs=t.outputs())
        for t in description.tenants
    }
    monitoring = components.Monitoring("monitoring", description.monitoring, provider=provider,
                                       protect=config.protect)
    for warning in description.warnings:
        pulumi.log.warn(warning)
    return Deployment(description=description, provider=provider, cluster=cluster, tenants=tenants,
                      monitoring=monitoring)


def main() -> None:
    deployment = build(settings())
    for name, value in deployment.outputs.items():
        pulumi.export(name, value)
