"""Load ``quotas/policy.yaml`` (kind Policy): tiers, licence rules, rounding and enforcement."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dctenant.domain import policies, quantities, resources
from dctenant.loaders import headers, isolations
from dctenant.loaders.fields import Reader

GRANULARITY_FIELDS = {"cpu": resources.Kind.CPU, "memory": resources.Kind.MEMORY,
                      "storage": resources.Kind.STORAGE, "bandwidth": resources.Kind.BANDWIDTH}
# The weights the allocator is exact and well conditioned for (docs/plan.md): each tier's weight, and the
# ratio of the heaviest to the lightest, since tenants of any two tiers may share a pool.
MIN_WEIGHT, MAX_WEIGHT, MAX_WEIGHT_RATIO = Decimal("0.001"), Decimal(1000), Decimal(1000)
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
        fields = reader.mapping(path, item, required=("weight", "guaranteed"), optional=("description", "isolation"))
        if fields is None:
            continue
        weight = reader.ratio((*path, "weight"), fields.get("weight", 1))
        if weight is not None and not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            reader.report((*path, "weight"), f"weight {weight} is outside {MIN_WEIGHT} to {MAX_WEIGHT}, the range "
                          "in which the allocator's fill is exact", hint="write a number such as 1, 2 or 4")
            weight = None
        guaranteed = reader.fraction((*path, "guaranteed"), fields.get("guaranteed", 0))
        description = reader.string((*path, "description"), fields.get("description", ""), empty=True) or ""
        if weight is not None and guaranteed is not None:
            out[name] = policies.Tier(name=name, weight=weight, guaranteed=guaranteed, description=description,
                                      isolation=_tier_isolation(reader, path, fields))
    if not out and not reader.problems:
        reader.report(("spec", "tiers"), "the policy declares no tier",
                      hint="add e.g. standard: {weight: 1, guaranteed: 0%}")
    if out:
        # Tenants of any two tiers may share a pool, so the bound on a pool's weight ratio is one on all tiers.
        light = min(out.values(), key=lambda t: t.weight)
        heavy = max(out.values(), key=lambda t: t.weight)
        if heavy.weight > MAX_WEIGHT_RATIO * light.weight:
            reader.report(("spec", "tiers", heavy.name, "weight"),
                          f"tier {heavy.name}'s weight {heavy.weight} is over {MAX_WEIGHT_RATIO} times tier "
                          f"{light.name}'s {light.weight}; the allocator is exact for weight ratios up to "
                          f"{MAX_WEIGHT_RATIO}", hint=f"raise {light.name}'s weight or lower {heavy.name}'s")
    return out


def _tier_isolation(reader: Reader, path: tuple[str, ...], fields: Mapping[str, Any]) -> policies.Isolation:
    """A tier's ``isolation`` (docs/quotas.md): what its tenants' namespaces may hold; defaults when absent."""
    if "isolation" not in fields:
        return policies.Isolation()
    return isolations.read(reader, (*path, "isolation"), fields["isolation"], base=policies.Isolation())


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



KUBERNETES_FIELDS = ("limitsRatio", "defaultRequest", "defaultLimit", "maxPerPod", "minPerContainer",
                     "ephemeralDefaults", "podSecurityVersion", "monitoringNamespace", "systemNamespace", "enforcer")
# Fields that moved to each tier's isolation.objects, where they can differ between tiers.
MOVED_COUNTS = ("persistentVolumeClaims", "loadBalancers", "nodePorts")
# A Pod Security Standards release to pin the namespace labels to: "v1.30" (never "latest", which
# would change what a namespace admits when the cluster is upgraded).
POD_SECURITY_VERSION = re.compile(r"v1\.[0-9]{1,2}")
ENFORCER_FIELDS = ("prometheusUrl", "image", "schedule", "ledger", "stateStorage", "environmentSecret")
# A CronJob schedule: one of cron's macros, or five fields of digits, names, ranges, steps and lists.
SCHEDULE = re.compile(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"
                      r"[0-9A-Za-z*?/,-]+( [0-9A-Za-z*?/,-]+){4}")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")  # an image pinned by digest cannot change under the same name
IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*[a-zA-Z0-9_]")


def _kubernetes(reader: Reader, raw: Any) -> policies.Namespaces:
    """``spec.kubernetes``: how namespaces are rendered (limits, defaults, per-pod maximum, counts)."""
    path = ("spec", "kubernetes")
    for moved in MOVED_COUNTS:
        if isinstance(raw, dict) and moved in raw:
            reader.report((*path, moved), f"{moved} is now set per tier",
                          hint=f"move it to spec.tiers.<tier>.isolation.objects.{moved}")
    fields = reader.mapping(path, {k: v for k, v in raw.items() if k not in MOVED_COUNTS}
                            if isinstance(raw, dict) else raw, optional=KUBERNETES_FIELDS) or {}
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

    def namespace(name: str, fallback: str) -> str:
        return reader.name((*path, name), fields.get(name, fallback)) or fallback

    share = reader.fraction((*path, "maxPerPod"), fields.get("maxPerPod", default.max_per_pod))
    return policies.Namespaces(
        limits_ratio=compute("limitsRatio", default.limits_ratio, ratio=True),
        default_request=compute("defaultRequest", default.default_request, ratio=False),
        default_limit=compute("defaultLimit", default.default_limit, ratio=False),
        max_per_pod=share or default.max_per_pod,
        min_per_container=compute("minPerContainer", default.min_per_container, ratio=False),
        pod_security_version=_pod_security_version(reader, fields.get("podSecurityVersion")),
        **_ephemeral_defaults(reader, fields.get("ephemeralDefaults", {})),
        monitoring_namespace=namespace("monitoringNamespace", default.monitoring_namespace),
        system_namespace=namespace("systemNamespace", default.system_namespace),
        enforcer=_enforcer(reader, fields.get("enforcer", {})),
    )


def _pod_security_version(reader: Reader, raw: Any) -> str:
    """``spec.kubernetes.podSecurityVersion``: the pinned Pod Security Standards release (default v1.30)."""
    default = policies.Namespaces().pod_security_version
    if raw is None:
        return default
    text = reader.string(("spec", "kubernetes", "podSecurityVersion"), raw)
    if text is not None and not POD_SECURITY_VERSION.fullmatch(text):
        reader.report(("spec", "kubernetes", "podSecurityVersion"),
                      f'"{text}" is not a pinned Kubernetes minor release',
                      hint=f'e.g. "{default}"; "latest" is refused because it changes with the cluster')
        return default
    return text or default


def _ephemeral_defaults(reader: Reader, raw: Any) -> dict[str, Decimal]:
    """``spec.kubernetes.ephemeralDefaults``: a container's ephemeral storage when it sets none."""
    path = ("spec", "kubernetes", "ephemeralDefaults")
    fields = reader.mapping(path, raw, optional=("request", "limit")) or {}
    default = policies.Namespaces()
    out = {"default_ephemeral_request": default.default_ephemeral_request,
           "default_ephemeral": default.default_ephemeral}
    for name, attribute in (("request", "default_ephemeral_request"), ("limit", "default_ephemeral")):
        if name in fields:
            try:
                out[attribute] = quantities.Quantity.parse(str(fields[name]))
            except quantities.QuantityError as exc:
                reader.report((*path, name), str(exc), hint='e.g. "1Gi"')
    if out["default_ephemeral_request"] > out["default_ephemeral"]:
        reader.report((*path, "request"), "the default request is above the default limit",
                      hint="lower request or raise limit")
    return out


def _enforcer(reader: Reader, raw: Any) -> policies.Enforcer:
    """``spec.kubernetes.enforcer``: the in-cluster enforcement CronJob (rendered only with a prometheusUrl)."""
    path = ("spec", "kubernetes", "enforcer")
    fields = reader.mapping(path, raw, optional=ENFORCER_FIELDS) or {}
    default = policies.Enforcer()
    url = ""
    if "prometheusUrl" in fields:
        url = reader.string((*path, "prometheusUrl"), fields["prometheusUrl"]) or ""
        parts = urllib.parse.urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.hostname):
            reader.report((*path, "prometheusUrl"), f'"{url}" is not an http(s) URL',
                          hint='e.g. "http://prometheus-operated.monitoring.svc:9090"')
            url = ""
        elif parts.password is not None:
            reader.report((*path, "prometheusUrl"), "the URL holds a password",
                          hint="put credentials in the environmentSecret (DCTENANT_PROMETHEUS_USER/_PASSWORD)")
            url = ""
    image = reader.string((*path, "image"), fields.get("image", default.image)) or default.image
    if not IMAGE.fullmatch(image):
        reader.report((*path, "image"), f'"{image}" is not a container image reference',
                      hint=f'e.g. "{default.image}"')
    elif "@" in image and not DIGEST.search(image):
        reader.report((*path, "image"), f'"{image}" has a malformed digest',
                      hint="pin it as name@sha256:<64 hexadecimal digits>")
    schedule = reader.string((*path, "schedule"), fields.get("schedule", default.schedule)) or default.schedule
    if not SCHEDULE.fullmatch(schedule):
        reader.report((*path, "schedule"), f'"{schedule}" is not a cron schedule',
                      hint='five fields (minute hour day month weekday), e.g. "*/5 * * * *"')
    ledger, secret = _ledger(reader, fields.get("ledger"))
    storage = reader.mapping((*path, "stateStorage"), fields.get("stateStorage", {}),
                             optional=("size", "storageClass")) or {}
    size = default.state_size
    if "size" in storage:
        try:
            size = quantities.Quantity.parse(str(storage["size"]))
        except quantities.QuantityError as exc:
            reader.report((*path, "stateStorage", "size"), str(exc))
        else:
            if size <= 0:
                reader.report((*path, "stateStorage", "size"), "must be above 0", hint='e.g. "1Gi"')
                size = default.state_size
    storage_class = ""
    if "storageClass" in storage:
        storage_class = reader.name((*path, "stateStorage", "storageClass"), storage["storageClass"],
                                    subdomain=True, max_length=253) or ""
    environment = ""
    if "environmentSecret" in fields:
        environment = reader.name((*path, "environmentSecret"), fields["environmentSecret"], subdomain=True,
                                  max_length=253) or ""
    return policies.Enforcer(prometheus_url=url, image=image, schedule=schedule, ledger=ledger,
                             ledger_secret=secret, state_size=size, storage_class=storage_class,
                             environment_secret=environment)


def _ledger(reader: Reader, raw: Any) -> tuple[str, policies.SecretRef | None]:
    """A ledger URL or path written out, or ``{secret, key}``: a Secret key holding one (with credentials)."""
    path = ("spec", "kubernetes", "enforcer", "ledger")
    if raw is None:
        return "", None
    if isinstance(raw, dict):
        ref = reader.mapping(path, raw, required=("secret", "key")) or {}
        name = reader.name((*path, "secret"), ref.get("secret"), subdomain=True, max_length=253)
        key = reader.string((*path, "key"), ref.get("key"))
        if key is not None and not CONFIG_KEY.fullmatch(key):
            reader.report((*path, "key"), f'"{key}" is not a Secret key (letters, digits, "-", "_", ".")')
            key = None
        return "", (policies.SecretRef(name=name, key=key) if name and key else None)
    url = reader.string(path, raw) or ""
    if not url:
        return "", None
    if not url.startswith(("sqlite:", "postgresql://", "postgres://", "/")):
        reader.report(path, f'"{url}" is not a SQLite or PostgreSQL ledger',
                      hint='e.g. "sqlite:////state/ledger.db", or {secret: dctenant-ledger, key: url}')
        return "", None
    if urllib.parse.urlsplit(url).password is not None:
        reader.report(path, "the ledger URL holds a password",
                      hint="keep it in a Secret: ledger: {secret: dctenant-ledger, key: url}")
        return "", None
    return url, None
