"""Load ``quotas/datacentre.yaml`` (kind DataCentre): storage classes and pools."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from dctenant.domain import pools, resources
from dctenant.loaders import fields, headers, resourcemaps
from dctenant.loaders.documents import Path
from dctenant.loaders.fields import Reader
from dctenant.loaders.resourcemaps import Mode

SPEC_FIELDS = ("storageClasses", "pools", "reserve", "overcommit", "prometheus")
POOL_FIELDS = ("name", "site", "context", "capacity", "reserve", "overcommit", "cluster")
PROMETHEUS_FIELDS = ("clusterLabel", "egress")
# A PromQL selector: a metric name with optional label matchers, so dctenant can add its own matchers.
_SELECTOR = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?", re.DOTALL)
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def load(reader: Reader, *, incomplete: set[str] | None = None) -> pools.DataCentre | None:
    """The data centre; the names of pools whose capacity had a problem are added to ``incomplete``.

    Such a pool lacks the resource that was misspelt, and the tenant loader must not then report
    every tenant's demand for it as "the pool has no ..." on top of the one real problem.
    """
    header = headers.read(reader, kind="DataCentre")
    if header is None:
        return None
    metadata, raw_spec = header
    spec = reader.mapping(("spec",), raw_spec, required=("storageClasses", "pools"), optional=SPEC_FIELDS) or {}
    classes = _storage_classes(reader, spec.get("storageClasses", []))
    class_names = {c.name for c in classes}
    reserve = resourcemaps.read(reader, ("spec", "reserve"), spec.get("reserve", {}), mode=Mode.RESERVE,
                                storage_classes=class_names)
    overcommit = resourcemaps.read(reader, ("spec", "overcommit"), spec.get("overcommit", {}),
                                   mode=Mode.OVERCOMMIT, storage_classes=class_names)
    found: list[pools.Pool] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader.sequence(("spec", "pools"), spec.get("pools", [])) or []):
        before = len(reader.problems)
        pool = _pool(reader, ("spec", "pools", index), raw, class_names, reserve, overcommit)
        if pool is not None and incomplete is not None and any(
            p.field.startswith(fields.dotted(("spec", "pools", index, "capacity"))) for p in reader.problems[before:]
        ):
            incomplete.add(pool.name)
        if pool is None:
            continue
        if pool.name in seen:
            reader.report(("spec", "pools", index, "name"), f'duplicate pool "{pool.name}"',
                          hint=f"it is already declared as pools[{seen[pool.name]}]")
            continue
        seen[pool.name] = index
        found.append(pool)
    if not found and "pools" in spec:
        reader.report(("spec", "pools"), "the data centre declares no usable pool")
    name = reader.name(("metadata", "name"), metadata.get("name")) or "datacentre"
    raw_display = metadata.get("displayName", {"en": name, "fa": name})
    display = headers.display_name(reader, ("metadata", "displayName"), raw_display, fallback=name)
    metrics = _metrics(reader, spec.get("prometheus"))
    return pools.DataCentre(name=name, display_name=display, storage_classes=classes, pools=tuple(found),
                            metrics=metrics)


def _metrics(reader: Reader, raw: Any) -> pools.Metrics:
    """``spec.prometheus``: the cluster label of a shared query endpoint and the egress source."""
    if raw is None:
        return pools.Metrics()
    path: Path = ("spec", "prometheus")
    found = reader.mapping(path, raw, optional=PROMETHEUS_FIELDS) or {}
    label = found.get("clusterLabel", "cluster")
    if label is None:
        label = ""
    if not isinstance(label, str) or (label and not _LABEL.fullmatch(label)):
        reader.report((*path, "clusterLabel"), f"{label!r} is not a Prometheus label name",
                      hint='write e.g. cluster, or "" when every pool has its own Prometheus')
        label = "cluster"
    egress = found.get("egress", "cadvisor")
    if not isinstance(egress, str) or not egress.strip():
        reader.report((*path, "egress"), "expected cadvisor or a PromQL selector",
                      hint='e.g. hubble_flows_bytes_total{destination="world"}')
        egress = "cadvisor"
    egress = egress.strip()
    if egress != "cadvisor" and not _SELECTOR.fullmatch(egress):
        reader.report((*path, "egress"), f"{egress!r} is not a PromQL selector (metric{{matchers}})",
                      hint="name a byte counter labelled by namespace, e.g. "
                           'hubble_flows_bytes_total{destination="world"}')
        egress = "cadvisor"
    return pools.Metrics(cluster_label=label, egress="" if egress == "cadvisor" else egress)


def _storage_classes(reader: Reader, raw: Any) -> tuple[pools.StorageClass, ...]:
    out: list[pools.StorageClass] = []
    for index, item in enumerate(reader.sequence(("spec", "storageClasses"), raw) or []):
        path: Path = ("spec", "storageClasses", index)
        fields = reader.mapping(path, item, required=("name",), optional=("description",))
        if fields is None:
            continue
        name = reader.name((*path, "name"), fields.get("name"), subdomain=True, max_length=253)
        if name is None:
            continue
        if any(c.name == name for c in out):
            reader.report((*path, "name"), f'duplicate storage class "{name}"')
            continue
        description = reader.string((*path, "description"), fields.get("description", ""), empty=True) or ""
        out.append(pools.StorageClass(name=name, description=description))
    return tuple(out)


def _pool(
    reader: Reader,
    path: Path,
    raw: Any,
    class_names: set[str],
    default_reserve: dict[str, resourcemaps.Value],
    default_overcommit: dict[str, resourcemaps.Value],
) -> pools.Pool | None:
    fields = reader.mapping(path, raw, required=("name", "context", "capacity"), optional=POOL_FIELDS)
    if fields is None:
        return None
    name = reader.name((*path, "name"), fields.get("name"))
    context = reader.string((*path, "context"), fields.get("context"))
    site = reader.string((*path, "site"), fields.get("site", name or ""), empty=True) or ""
    before = len(reader.problems)
    capacity = resourcemaps.amounts(
        resourcemaps.read(reader, (*path, "capacity"), fields.get("capacity", {}), mode=Mode.AMOUNT,
                          storage_classes=class_names)
    )
    # A resource left out of capacity because its value was wrong is not "missing" from it.
    capacity_ok = len(reader.problems) == before
    own_reserve = resourcemaps.read(reader, (*path, "reserve"), fields.get("reserve", {}), mode=Mode.RESERVE,
                                    storage_classes=class_names)
    own_overcommit = resourcemaps.read(reader, (*path, "overcommit"), fields.get("overcommit", {}),
                                       mode=Mode.OVERCOMMIT, storage_classes=class_names)
    cluster = reader.string((*path, "cluster"), fields.get("cluster", name or ""), empty=True) or ""
    if name is None or context is None:
        return None
    reserve = _resolve({**default_reserve}, own_reserve, capacity)
    overcommit = _resolve({**default_overcommit}, own_overcommit, capacity)
    for section, own in (("reserve", own_reserve), ("overcommit", own_overcommit)):
        for key in sorted(own):
            if capacity_ok and not any(_wildcard(k) == key or k == key for k in capacity):
                reader.report((*path, section), f"{key.removesuffix('/*')} is not in this pool's capacity",
                              hint="add it to capacity or remove it here")
    for key in capacity:
        usable = capacity[key] * overcommit.get(key, Decimal(1))
        if reserve.get(key, Decimal(0)) > usable:
            reader.report((*path, "reserve"), f"reserve of {key} ({resources.format_amount(key, reserve[key])}) "
                          f"exceeds the capacity ({resources.format_amount(key, usable)})",
                          hint="lower the reserve")
    return pools.Pool(name=name, site=site, context=context, capacity=capacity, reserve=reserve, overcommit=overcommit,
                      cluster="" if cluster == name else cluster)


def _resolve(
    defaults: dict[str, resourcemaps.Value], own: dict[str, resourcemaps.Value], capacity: dict[str, Decimal]
) -> dict[str, Decimal]:
    """Per resource of the pool: its own value, else the data-centre default; percentages of capacity."""
    out: dict[str, Decimal] = {}
    for key, amount in capacity.items():
        wildcard = _wildcard(key)
        for source in (own, defaults):
            value = source.get(key, source.get(wildcard) if wildcard else None)
            if value is not None:
                out[key] = (resources.round_up(key, amount * value.share)
                            if isinstance(value, resourcemaps.Percent) else value)
                break
    return out


def _wildcard(key: str) -> str | None:
    """The wildcard key (``storage/*``, ``bandwidth/*``) that also covers ``key``, if any."""
    if key.startswith(resources.STORAGE_PREFIX):
        return resourcemaps.STORAGE_ANY
    if key.startswith(resources.BANDWIDTH_PREFIX):
        return resourcemaps.BANDWIDTH_ANY
    return None
