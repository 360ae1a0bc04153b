"""``dctenant dashboards``: generate the Grafana dashboards from ``quotas/`` into a directory.

The generated JSON is committed in ``dashboards/`` (reviewable in pull requests, provisioned by the
stacks as ConfigMaps), and a test regenerates it to prove it never drifts from the code. The
dashboards query with the same kube-state-metrics selector the enforcer uses, taken from the
default Prometheus settings, so a site that renames its jobs changes both in one place.

Files are written only when their content changed, so a regeneration touches nothing when the
data centre did not change. JSON files in the directory that are no longer generated are reported,
not deleted: the directory may hold dashboards of other origins. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import pathlib
from dataclasses import dataclass
from typing import Any

from dctenant.clients import files, prometheus
from dctenant.domain import changes, quotas
from dctenant.loaders import loading
from dctenant.render import grafana

SIDECAR_LABEL = "grafana_dashboard"


@dataclass(frozen=True, kw_only=True)
class DashboardFile:
    """One generated dashboard and whether this run changed it on disk."""

    file: str
    uid: str
    title: str
    panels: int
    changed: bool


@dataclass(frozen=True, kw_only=True)
class DashboardsResult:
    """What ``generate`` wrote; ``foreign`` are JSON files in ``out`` that it does not generate."""

    out: str
    dashboards: tuple[DashboardFile, ...]
    foreign: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return any(d.changed for d in self.dashboards)

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out, "changed": self.changed,
                "dashboards": [dataclasses.asdict(d) for d in self.dashboards], "foreign": list(self.foreign)}


def texts(model: quotas.Quotas) -> dict[str, str]:
    """Each dashboard's file text by file name, exactly as ``generate`` writes it."""
    s = prometheus.Settings(url="")
    series = f'{s.metrics["quota"]}{{{s.kube_state_metrics},resourcequota="{s.quota_name}"}}'
    return {name: grafana.encode(board)
            for name, board in sorted(grafana.dashboards(model, quota_series=series).items())}


def config_maps(model: quotas.Quotas) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard in the monitoring namespace, labelled for Grafana's dashboard sidecar.

    The sidecar of the Grafana Helm chart (and kube-prometheus-stack) loads every ConfigMap labelled
    ``grafana_dashboard: "1"``; the stacks declare these so that each site's Grafana shows the
    same dashboards as ``dashboards/``. Each stays far below the 1 MiB ConfigMap limit.
    """
    namespace = model.policy.kubernetes.monitoring_namespace
    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": f"dctenant-dashboard-{name.removesuffix('.json')}", "namespace": namespace,
                          "labels": {SIDECAR_LABEL: "1", changes.MANAGED_BY: changes.MANAGER}},
             "data": {name: text}}
            for name, text in texts(model).items()]


def generate(path: str, *, out: str) -> DashboardsResult:
    """Load ``path`` and write one JSON file per dashboard into ``out`` (created if missing)."""
    import json

    model = loading.load(path)
    root = pathlib.Path(out)
    files.ensure_directory(root)
    written: list[DashboardFile] = []
    wanted = texts(model)
    for name, text in wanted.items():
        target = root / name
        old = files.read_text(target)
        if old != text:
            files.write_atomically(target, text)
        board = json.loads(text)
        written.append(DashboardFile(file=name, uid=board["uid"], title=board["title"],
                                     panels=len(board["panels"]), changed=old != text))
    foreign = tuple(sorted(p.name for p in root.glob("*.json") if p.name not in wanted))
    return DashboardsResult(out=str(root), dashboards=tuple(written), foreign=foreign)
