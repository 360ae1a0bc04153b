"""Read an ``isolation`` mapping: of a tier in ``policy.yaml``, or a tenant's overrides in its own file.

Both places share one reader so that a field means the same thing in each and is checked the same
way; a tenant's overrides replace the tier's value field by field (``objects`` key by key). The
checks that need the whole result (a load-balancer count where LoadBalancer services are not
allowed) run on the merged value, at the path of the mapping that was read.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from dctenant.domain import policies, quantities
from dctenant.loaders.documents import Path
from dctenant.loaders.fields import Reader

FIELDS = ("podSecurity", "objects", "ephemeralStorage", "serviceTypes", "ingressClasses", "gatewayClasses",
          "priorityClasses", "runtimeClasses", "nodeSelector", "tolerations", "registries")
OBJECT_FIELDS = {"pods": "pods", "services": "services", "loadBalancers": "load_balancers",
                 "nodePorts": "node_ports", "secrets": "secrets", "configMaps": "config_maps",
                 "persistentVolumeClaims": "persistent_volume_claims"}
# A label key or taint key: an optional DNS subdomain prefix and "/", then a name of at most 63 characters.
QUALIFIED = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# A registry and optional repository path, as written before the image name: "registry.ndc.ir/bale".
REGISTRY = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*")


def read(reader: Reader, path: Path, raw: Any, *, base: policies.Isolation) -> policies.Isolation:
    """``base`` with every field ``raw`` sets replaced; problems are reported on ``reader``."""
    fields = reader.mapping(path, raw, optional=FIELDS) or {}
    changed: dict[str, Any] = {}
    if "podSecurity" in fields:
        level = _pod_security(reader, (*path, "podSecurity"), fields["podSecurity"])
        if level is not None:
            changed["pod_security"] = level
    if "objects" in fields:
        changed["objects"] = _objects(reader, (*path, "objects"), fields["objects"], base=base.objects)
    if "ephemeralStorage" in fields:
        size = _size(reader, (*path, "ephemeralStorage"), fields["ephemeralStorage"])
        if size is not None:
            changed["ephemeral_storage"] = size
    if "serviceTypes" in fields:
        changed["service_types"] = _list(reader, (*path, "serviceTypes"), fields["serviceTypes"],
                                         lambda p, v: reader.choice(p, v, policies.SERVICE_TYPES))
    for name, attribute in (("ingressClasses", "ingress_classes"), ("gatewayClasses", "gateway_classes"),
                            ("priorityClasses", "priority_classes"), ("runtimeClasses", "runtime_classes")):
        if name in fields:
            changed[attribute] = _list(reader, (*path, name), fields[name],
                                       lambda p, v: reader.name(p, v, subdomain=True, max_length=253))
    if "nodeSelector" in fields:
        changed["node_selector"] = _selector(reader, (*path, "nodeSelector"), fields["nodeSelector"])
    if "tolerations" in fields:
        changed["tolerations"] = _list(reader, (*path, "tolerations"), fields["tolerations"],
                                       lambda p, v: _taint(reader, p, v))
    if "registries" in fields:
        changed["registries"] = _list(reader, (*path, "registries"), fields["registries"],
                                      lambda p, v: _registry(reader, p, v))
    out = dataclasses.replace(base, **changed)
    # Checked where counts or service types are written, so one mistake in a tier is not reported
    # again in every tenant that overrides something else.
    if "objects" in fields or "serviceTypes" in fields:
        _consistent(reader, path, out)
    return out


def _pod_security(reader: Reader, path: Path, raw: Any) -> str | None:
    if raw == "privileged":
        reader.report(path, 'the Pod Security level "privileged" is not allowed for tenants: it lets a pod take '
                            "over its node (host namespaces, host paths, privileged containers)",
                      hint='use "baseline" for workloads that cannot meet "restricted"')
        return None
    return reader.choice(path, raw, policies.POD_SECURITY_LEVELS)


def _objects(reader: Reader, path: Path, raw: Any, *, base: policies.ObjectCounts) -> policies.ObjectCounts:
    found = reader.mapping(path, raw, optional=tuple(OBJECT_FIELDS)) or {}
    changed = {}
    for name, value in found.items():
        count = reader.integer((*path, name), value)
        if count is not None:
            changed[OBJECT_FIELDS[name]] = count
    return dataclasses.replace(base, **changed)


def _size(reader: Reader, path: Path, raw: Any) -> Any:
    try:
        value = quantities.Quantity.parse(str(raw))
    except quantities.QuantityError as exc:
        reader.report(path, str(exc), hint='e.g. "50Gi"')
        return None
    if value <= 0:
        reader.report(path, "must be above 0", hint='e.g. "50Gi"')
        return None
    return value


def _list(reader: Reader, path: Path, raw: Any, item: Any) -> tuple[str, ...]:
    items = reader.sequence(path, raw) or []
    out: list[str] = []
    for index, value in enumerate(items):
        parsed = item((*path, index), value)
        if parsed is None:
            continue
        if parsed in out:
            reader.report((*path, index), f'"{parsed}" is listed twice')
            continue
        out.append(parsed)
    return tuple(out)


def _selector(reader: Reader, path: Path, raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (reader.mapping(path, raw) or {}).items():
        if not QUALIFIED.fullmatch(key):
            reader.report((*path, key), f'"{key}" is not a label key', hint='e.g. "node.ndc.ir/pool: tenants"')
            continue
        text = value if isinstance(value, str) else None
        if text is None or not LABEL_VALUE.fullmatch(text) or len(text) > 63:
            reader.report((*path, key), f"{value!r} is not a label value", hint="quote a value of letters, digits, "
                                                                              "'-', '_' and '.'")
            continue
        out[key] = text
    return out


def _taint(reader: Reader, path: Path, raw: Any) -> str | None:
    key = reader.string(path, raw)
    if key is None:
        return None
    if key == policies.GPU_TAINT:
        reader.report(path, f'"{key}" is granted by the allocation, not listed: tenants with a GPU envelope in a '
                            "pool may tolerate it there", hint="remove it")
        return None
    if not QUALIFIED.fullmatch(key) or len(key) > 316:
        reader.report(path, f'"{key}" is not a taint key', hint='e.g. "node.ndc.ir/dedicated"')
        return None
    return key


def _registry(reader: Reader, path: Path, raw: Any) -> str | None:
    text = reader.string(path, raw)
    if text is None:
        return None
    prefix = text.rstrip("/")
    host = prefix.split("/")[0]
    # A registry host has a dot or a port ("registry.ndc.ir", "harbor:5000"); "library" would be a path.
    if not REGISTRY.fullmatch(prefix) or ("." not in host and ":" not in host):
        reader.report(path, f'"{text}" is not a registry (a host name with a dot, optionally a port and a path)',
                      hint='e.g. "registry.ndc.ir/bale"')
        return None
    return prefix + "/"


def _consistent(reader: Reader, path: Path, isolation: policies.Isolation) -> None:
    """Counts of a service type that is not allowed would read as a promise the admission policy breaks."""
    for kind, count, name in (("LoadBalancer", isolation.objects.load_balancers, "loadBalancers"),
                              ("NodePort", isolation.objects.node_ports, "nodePorts")):
        if count and kind not in isolation.service_types:
            reader.report((*path, "objects", name), f"{name} is {count} but serviceTypes does not allow {kind}",
                          hint=f"add {kind} to serviceTypes, or set {name}: 0")
