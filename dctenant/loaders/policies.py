"""Load ``quotas/policy.yaml`` (kind Policy): tiers, licence rules, rounding and enforcement."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dctenant.domain import policies, quantities, resources
from dctenant.loaders import headers
from dctenant.loaders.fields import Reader

GRANULARITY_FIELDS = {"cpu": resources.Kind.CPU, "memory": resources.Kind.MEMORY,
                      "storage": resources.Kind.STORAGE, "bandwidth": resources.Kind.BANDWIDTH}
ENFORCEMENT_FIELDS = ("warningAt", "breachAt", "sustainedFor", "gracePeriod", "recoveryWindow", "actions")


def load(reader: Reader) -> policies.Policy | None:
    header = headers.read(reader, kind="Policy")
    if header is None:
        return None
    metadata, raw_spec = header
    spec = reader.mapping(("spec",), raw_spec, required=("tiers",),
                          optional=("tiers", "licences", "allocation", "enforcement", "kubernetes")) or {}
    tiers = _tiers(reader, spec.get("tiers", {}))
    lic = reader.mapping(("spec", "licences"), spec.get("licences", {}), optional=("warningDays", "graceDays")) or {}
    licences = policies.LicenceRules(
        warning_days=reader.integer(("spec", "licences", "warningDays"), lic.get("warningDays", 30)) or 0,
        grace_days=reader.integer(("spec", "licences", "graceDays"), lic.get("graceDays", 14)) or 0,
    )
    granularity = _granularity(reader, spec.get("allocation", {}))
    enforcement = _enforcement(reader, spec.get("enforcement", {}))
    kubernetes = _kubernetes(reader, spec.get("kubernetes", {}))
    name = reader.name(("metadata", "name"), metadata.get("name")) or "policy"
    return policies.Policy(name=name, tiers=tiers, licences=licences, granularity=granularity,
                           enforcement=enforcement, kubernetes=kubernetes)


def _tiers(reader: Reader, raw: Any) -> dict[str, policies.Tier]:
    out: dict[str, policies.Tier] = {}
    for name, item in (reader.mapping(("spec", "tiers"), raw) or {}).items():
        path = ("spec", "tiers", name)
        if reader.name(path, name) is None:
            continue
        fields = reader.mapping(path, item, required=("weight", "guaranteed"), optional=("description",))
        if fields is None:
            continue
        weight = reader.ratio((*path, "weight"), fields.get("weight", 1))
        if weight is not None and weight <= 0:
            reader.report((*path, "weight"), "weight must be above 0", hint="write a positive number such as 1")
            weight = None
        guaranteed = reader.fraction((*path, "guaranteed"), fields.get("guaranteed", 0))
        description = reader.string((*path, "description"), fields.get("description", ""), empty=True) or ""
        if weight is not None and guaranteed is not None:
            out[name] = policies.Tier(name=name, weight=weight, guaranteed=guaranteed, description=description)
    if not out and not reader.problems:
        reader.report(("spec", "tiers"), "the policy declares no tier",
                      hint="add e.g. standard: {weight: 1, guaranteed: 0%}")
    return out


def _granularity(reader: Reader, raw: Any) -> dict[resources.Kind, Decimal]:
    out = dict(policies.DEFAULT_GRANULARITY)
    allocation = reader.mapping(("spec", "allocation"), raw, optional=("granularity",)) or {}
    fields = reader.mapping(("spec", "allocation", "granularity"), allocation.get("granularity", {}),
                            optional=tuple(GRANULARITY_FIELDS)) or {}
    for field, kind in GRANULARITY_FIELDS.items():
        if field not in fields:
            continue
        path = ("spec", "allocation", "granularity", field)
        try:
            parse = quantities.Bandwidth.parse if kind is resources.Kind.BANDWIDTH else quantities.Quantity.parse
            value = parse(str(fields[field]))
        except quantities.QuantityError as exc:
            reader.report(path, str(exc))
            continue
        if value <= 0:
            reader.report(path, "granularity must be above 0", hint='e.g. "1m" for cpu or "1Mi" for memory')
            continue
        out[kind] = value
    return out


def _enforcement(reader: Reader, raw: Any) -> policies.Enforcement:
    fields = reader.mapping(("spec", "enforcement"), raw, optional=ENFORCEMENT_FIELDS) or {}
    default = policies.Enforcement()
    path = ("spec", "enforcement")
    warning_at = reader.fraction((*path, "warningAt"), fields.get("warningAt", "80%"))
    # A breach may be set above the envelope ("110%"), so it is a ratio, not a share.
    breach_at = reader.ratio((*path, "breachAt"), fields.get("breachAt", "100%"))
    if warning_at is not None and breach_at is not None and warning_at > breach_at:
        reader.report((*path, "warningAt"), "warningAt must not be above breachAt",
                      hint="e.g. warningAt: 80%, breachAt: 100%")
    actions: tuple[str, ...] = default.actions
    if "actions" in fields:
        items = reader.sequence((*path, "actions"), fields["actions"]) or []
        chosen = [reader.choice((*path, "actions", i), a, policies.ACTIONS) for i, a in enumerate(items)]
        valid = [a for a in chosen if a is not None]
        if len(set(valid)) != len(valid):
            reader.report((*path, "actions"), "an action is listed twice")
        order = [policies.ACTIONS.index(a) for a in valid]
        if order != sorted(order):
            reader.report((*path, "actions"), "actions must be graduated from mildest to strongest",
                          hint="order: " + ", ".join(policies.ACTIONS))
        actions = tuple(valid)

    def seconds(name: str, default_value: int) -> int:
        if name not in fields:
            return default_value
        found = reader.duration((*path, name), fields[name])
        return default_value if found is None else found

    return policies.Enforcement(
        warning_at=default.warning_at if warning_at is None else warning_at,
        breach_at=default.breach_at if breach_at is None else breach_at,
        sustained_for=seconds("sustainedFor", default.sustained_for),
        grace_period=seconds("gracePeriod", default.grace_period),
        recovery_window=seconds("recoveryWindow", default.recovery_window),
        actions=actions,
    )



KUBERNETES_FIELDS = ("limitsRatio", "defaultRequest", "defaultLimit", "maxPerPod", "persistentVolumeClaims",
                     "loadBalancers", "nodePorts", "monitoringNamespace", "systemNamespace")


def _kubernetes(reader: Reader, raw: Any) -> policies.Namespaces:
    """``spec.kubernetes``: how namespaces are rendered (limits, defaults, per-pod maximum, counts)."""
    path = ("spec", "kubernetes")
    fields = reader.mapping(path, raw, optional=KUBERNETES_FIELDS) or {}
    default = policies.Namespaces()

    def compute(name: str, fallback: Mapping[str, Decimal], *, ratio: bool) -> dict[str, Decimal]:
        found = reader.mapping((*path, name), fields.get(name, {}), optional=("cpu", "memory")) or {}
        out = dict(fallback)
        for key, value in found.items():
            where = (*path, name, key)
            if ratio:
                parsed = reader.ratio(where, value, minimum=Decimal(1))
            else:
                try:
                    parsed = quantities.Quantity.parse(str(value))
                except quantities.QuantityError as exc:
                    reader.report(where, str(exc))
                    parsed = None
            if parsed is not None:
                out[key] = parsed
        return out

    def count(name: str, fallback: int) -> int:
        found = reader.integer((*path, name), fields.get(name, fallback))
        return fallback if found is None else found

    def namespace(name: str, fallback: str) -> str:
        return reader.name((*path, name), fields.get(name, fallback)) or fallback

    share = reader.fraction((*path, "maxPerPod"), fields.get("maxPerPod", default.max_per_pod))
    return policies.Namespaces(
        limits_ratio=compute("limitsRatio", default.limits_ratio, ratio=True),
        default_request=compute("defaultRequest", default.default_request, ratio=False),
        default_limit=compute("defaultLimit", default.default_limit, ratio=False),
        max_per_pod=share or default.max_per_pod,
        persistent_volume_claims=count("persistentVolumeClaims", default.persistent_volume_claims),
        load_balancers=count("loadBalancers", default.load_balancers),
        node_ports=count("nodePorts", default.node_ports),
        monitoring_namespace=namespace("monitoringNamespace", default.monitoring_namespace),
        system_namespace=namespace("systemNamespace", default.system_namespace),
    )
