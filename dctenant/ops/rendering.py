"""``dctenant render``: write every pool's desired Kubernetes objects to a directory, one file a namespace.

The files are for review (a pull request shows exactly which quota changes), for GitOps tools, and
for ``kubectl apply`` by hand when dctenant cannot reach a cluster. Layout: ``OUT/<pool>/_cluster.yaml``
(cluster-wide objects), ``OUT/<pool>/<namespace>.yaml`` and, when configured, the in-cluster
enforcer's objects in ``OUT/<pool>/_enforcer.yaml``.

The output directory is replaced, not merged: a marker file records the files the previous run
wrote, so a namespace that is no longer desired loses its file, and a directory dctenant did not
write is refused unless forced (a mistyped ``--out`` must not scatter files into a home directory).
The writes go through ``clients.files`` (temporary file and rename); nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dctenant.clients import files as disk
from dctenant.domain import allocations, quotas
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import enforcer, kubernetes

MARKER = ".dctenant-render"
CLUSTER_FILE = "_cluster.yaml"
DASHBOARDS_FILE = "_grafana-dashboards.yaml"
ENFORCER_FILE = "_enforcer.yaml"
_MARKER_HEADER = "# Written by `dctenant render`; it replaces the files listed below on its next run.\n"


@dataclass(frozen=True, kw_only=True)
class PoolFiles:
    """What was written for one pool."""

    pool: str
    namespaces: int  # tenant namespaces
    objects: int  # every object, cluster-wide ones included
    files: tuple[str, ...]  # paths relative to the output directory


@dataclass(frozen=True, kw_only=True)
class RenderResult:
    out: str
    at: dt.date
    pools: tuple[PoolFiles, ...]
    removed: tuple[str, ...]  # files of the previous render that are no longer desired
    warnings: tuple[str, ...]

    @property
    def objects(self) -> int:
        return sum(p.objects for p in self.pools)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "RenderResult",
            "at": self.at.isoformat(),
            "out": self.out,
            "pools": {p.pool: {"namespaces": p.namespaces, "objects": p.objects, "files": list(p.files)}
                      for p in self.pools},
            "removed": list(self.removed),
            "warnings": list(self.warnings),
        }


def files(model: quotas.Quotas, allocation: allocations.Allocation) -> dict[str, tuple[kubernetes.Manifest, ...]]:
    """The objects of each output file, by path relative to the output directory (pure)."""
    out: dict[str, tuple[kubernetes.Manifest, ...]] = {}
    for pool, manifests in kubernetes.render(model, allocation).items():
        groups: dict[str, list[kubernetes.Manifest]] = {CLUSTER_FILE: []}
        for obj in manifests:
            meta = obj["metadata"]
            if meta.get("labels", {}).get(enforcer.COMPONENT_LABEL) == enforcer.COMPONENT:
                group = ENFORCER_FILE
            elif "namespace" in meta:
                group = f"{meta['namespace']}.yaml"
            elif obj["kind"] == "Namespace" and kubernetes.TENANT_LABEL in meta.get("labels", {}):
                group = f"{meta['name']}.yaml"
            else:
                group = CLUSTER_FILE
            groups.setdefault(group, []).append(obj)
        for name, objs in groups.items():
            out[f"{pool}/{name}"] = tuple(objs)
    return out


def rule_files(model: quotas.Quotas, allocation: allocations.Allocation) -> dict[str, tuple[dict[str, Any], ...]]:
    """Each pool's Prometheus rules, as a plain rules file and as a ``PrometheusRule`` (docs/enforcement.md)."""
    from dctenant.clients import prometheus as promql
    from dctenant.render import prometheus_rules

    settings = promql.Settings(url="")
    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for pool in model.datacentre.pool_names:
        where = promql.scope(settings, model.datacentre, [pool])  # the pool's cluster label and egress source
        groups = prometheus_rules.rules(model, allocation, pool=pool, queries=promql.queries(settings, where),
                                        sources=promql.sources(settings, where))
        out[f"{pool}/{prometheus_rules.RULES_FILE}"] = (groups,)
        out[f"{pool}/{prometheus_rules.RULE_OBJECT_FILE}"] = (prometheus_rules.rule_object(model, pool, groups),)
    return out


def dashboard_files(model: quotas.Quotas) -> dict[str, tuple[dict[str, Any], ...]]:
    """Each pool's Grafana dashboards as ConfigMaps for the Grafana sidecar (docs/dashboards.md)."""
    from dctenant.ops import dashboarding

    maps = tuple(dashboarding.config_maps(model))
    # Labelled with their pool like every other object dctenant renders (docs/kubernetes.md).
    return {f"{pool}/{DASHBOARDS_FILE}": tuple(
        {**m, "metadata": {**m["metadata"], "labels": {**m["metadata"]["labels"], kubernetes.POOL_LABEL: pool}}}
        for m in maps) for pool in model.datacentre.pool_names}


def render(path: str, *, at: dt.date, out: str, force: bool = False) -> RenderResult:
    """Load ``path``, allocate it as of ``at`` and write the manifests under ``out``."""
    model = loading.load(path)
    allocation = planning.allocate(model, at=at)
    wanted = files(model, allocation)
    wanted.update(rule_files(model, allocation))
    wanted.update(dashboard_files(model))
    root = pathlib.Path(out)
    previous = _previous(root, force=force)
    removed = tuple(sorted(rel for rel in previous if rel not in wanted and (root / rel).is_file()))
    disk.remove_files(root, removed)
    for rel, manifests in wanted.items():
        disk.write_atomically(root / rel, kubernetes.to_yaml(manifests))
    disk.write_atomically(root / MARKER, _MARKER_HEADER + "".join(f"{rel}\n" for rel in sorted(wanted)))
    return RenderResult(out=str(root), at=at, pools=_summary(wanted), removed=removed,
                        warnings=allocation.warnings)


def _previous(root: pathlib.Path, *, force: bool) -> tuple[str, ...]:
    """The files a previous render wrote into ``root``; refuses a foreign, non-empty directory."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} exists and is not a directory", location="--out")
    marker = disk.read_text(root / MARKER)
    if marker is not None:
        lines = marker.splitlines()
        # Only plain relative paths inside the directory: a tampered marker must not delete elsewhere.
        return tuple(ln for ln in lines if ln and not ln.startswith("#") and _inside(ln))
    if root.is_dir() and any(root.iterdir()) and not force:
        raise UserError(f"{root} is not empty and was not written by dctenant render; "
                        "choose an empty or new directory, or pass --force to write into it anyway",
                        location="--out")
    return ()


def _inside(rel: str) -> bool:
    return not os.path.isabs(rel) and ".." not in pathlib.PurePosixPath(rel).parts and bool(rel.strip())


def _summary(wanted: Mapping[str, tuple[kubernetes.Manifest, ...]]) -> tuple[PoolFiles, ...]:
    by_pool: dict[str, list[str]] = {}
    for rel in wanted:
        by_pool.setdefault(rel.split("/", 1)[0], []).append(rel)
    return tuple(
        # Files whose name starts with "_" are the cluster's own (objects, Prometheus rules), not namespaces';
        # a plain rules file is not a Kubernetes object.
        PoolFiles(pool=pool, namespaces=sum(1 for rel in rels if not rel.split("/")[-1].startswith("_")),
                  objects=sum(1 for rel in rels for obj in wanted[rel] if "kind" in obj), files=tuple(sorted(rels)))
        for pool, rels in by_pool.items()
    )
