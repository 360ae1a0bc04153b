"""The in-cluster enforcer of one pool: ``dctenant enforce --once --act`` as a CronJob in the system namespace.

Metrics-based enforcement (docs/enforcement.md) must run next to the cluster it acts on, on a
schedule, whether or not a staff machine is awake. This module describes everything that needs,
once per pool, in dctenant's system namespace:

* the ServiceAccount ``dctenant`` — the identity the ``dctenant-protect-quotas`` admission policy
  trusts, without which the enforcer could not lower a quota — and a ClusterRole granting only what
  ``ops.acting`` calls (``rules``; a unit test replays every action and checks it). The role is not
  bound cluster-wide: ``kubernetes`` binds it with a RoleBinding in each tenant namespace, so the
  enforcer can write nowhere else (not kube-system, not dctenant's own namespace);
* the ConfigMap ``dctenant-quotas`` holding ``quotas/`` exactly as read (``Quotas.sources``), so the
  enforcer works from the reviewed files, not from a copy rendered from them;
* the ConfigMap ``dctenant-enforcer`` with a kubeconfig whose only context is the pool's context,
  pointing at the API server from inside the cluster with the pod's own token: the enforcer reaches
  its cluster exactly as ``dctenant enforce`` does from a staff machine, through a context name;
* a PersistentVolumeClaim for the enforcer's state (and the default SQLite ledger), because a
  breach's start, the level of action and saved replica counts must survive the pod;
* the CronJob (``concurrencyPolicy: Forbid``: two enforcers must never act at once), hardened
  (non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp).

Nothing is rendered without ``spec.kubernetes.enforcer.prometheusUrl``: an enforcer that cannot
measure would only report missing data. Pure and deterministic, like every renderer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from dctenant.domain import changes, policies, quantities
from dctenant.errors import UserError

Manifest = changes.ManifestDict

SERVICE_ACCOUNT = "dctenant"
ROLE = "dctenant:enforcer"
QUOTAS_CONFIG = "dctenant-quotas"
SETTINGS_CONFIG = "dctenant-enforcer"
CLAIM = "dctenant-enforcer-state"
CRON_JOB = "dctenant-enforcer"
COMPONENT_LABEL = "app.kubernetes.io/component"
COMPONENT = "enforcer"
RBAC_GROUP = "rbac.authorization.k8s.io"

QUOTAS_DIR = "/quotas"
STATE_DIR = "/state"
SETTINGS_DIR = "/etc/dctenant"
KUBECONFIG = "kubeconfig"
DEFAULT_LEDGER = f"sqlite:///{STATE_DIR}/ledger.db"
TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
API_SERVER = "https://kubernetes.default.svc"
USER_ID = 65532  # the conventional "nonroot" user of distroless images; owns the state volume (fsGroup)
# The API server's limit on a ConfigMap's data (keys and values together).
CONFIG_MAP_LIMIT = 1024 * 1024
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def rules(*, quota: str, bandwidth: str) -> list[dict[str, Any]]:
    """What ``enforce --act`` calls (ops/acting.py through clients/kube.py), and nothing else.

    The quota and the bandwidth parameters are read and patched by name (``resourceNames``), so no
    other ConfigMap — or Secret-like data in one — is readable. Workloads are listed per namespace
    and patched (``spec.replicas`` and pod-template annotations; no ``/scale`` subresource is used);
    Events are created. Usage comes from Prometheus, so pods and namespaces need not be read.
    """
    return [
        {"apiGroups": [""], "resources": ["resourcequotas"], "resourceNames": [quota], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [bandwidth], "verbs": ["get", "patch"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["list", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]


def objects(
    *,
    policy: policies.Namespaces,
    pool: str,
    context: str,
    labels: Mapping[str, str],
    sources: Mapping[str, str],
    quota: str,
    bandwidth: str,
) -> tuple[Manifest, ...]:
    """The pool's enforcer objects in apply order, or none when no Prometheus URL is configured.

    ``sources`` are the quotas files by relative path (``Quotas.sources``); ``quota`` and
    ``bandwidth`` the names of the objects the enforcer patches in tenant namespaces.
    """
    settings = policy.enforcer
    if not settings.enabled:
        return ()
    namespace = policy.system_namespace
    own = {**labels, COMPONENT_LABEL: COMPONENT}

    def meta(name: str, *, namespaced: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "labels": dict(own)}
        if namespaced:
            out["namespace"] = namespace
        return out

    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(SERVICE_ACCOUNT)}
    role = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": meta(ROLE, namespaced=False),
            "rules": rules(quota=quota, bandwidth=bandwidth)}
    files = quota_files(sources)
    quotas_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(QUOTAS_CONFIG),
                  "data": {key: text for key, (_, text) in files.items()}}
    settings_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(SETTINGS_CONFIG),
                    "data": {KUBECONFIG: kubeconfig(context)}}
    size = quantities.Quantity.format(settings.state_size)
    claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if settings.storage_class:
        claim_spec["storageClassName"] = settings.storage_class
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(CLAIM), "spec": claim_spec}
    job = cron_job(settings, pool=pool, labels=own, namespace=namespace,
                   items=[{"key": key, "path": rel} for key, (rel, _) in files.items()])
    return (account, role, quotas_map, settings_map, claim, job)


def quota_files(sources: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """ConfigMap key → (path under /quotas, text). Keys cannot hold "/", so ``tenants/bale.yaml`` is
    ``tenants.bale.yaml`` and the volume's ``items`` put it back in its directory.

    Refuses what the API server would: no files, a file name that cannot be a key, more than 1 MiB.
    """
    if not sources:
        raise UserError("the in-cluster enforcer needs the quotas files as loaded from a directory "
                        "(this model was built in code)")
    out: dict[str, tuple[str, str]] = {}
    for rel in sorted(sources):
        key = rel.replace("/", ".")
        if not CONFIG_KEY.fullmatch(key) or key in out:
            raise UserError(f"{rel} cannot be a key of the {QUOTAS_CONFIG} ConfigMap (letters, digits, "
                            "'-', '_' and '.' only); rename the file", location=rel)
        out[key] = (rel, sources[rel])
    size = sum(len(k.encode()) + len(text.encode()) for k, (_, text) in out.items())
    if size > CONFIG_MAP_LIMIT:
        raise UserError(
            f"quotas/ is {size} bytes, over the 1 MiB limit of the {QUOTAS_CONFIG} ConfigMap that carries it to "
            "the in-cluster enforcer; remove spec.kubernetes.enforcer.prometheusUrl and run `dctenant enforce` "
            "outside the cluster, or shorten the files (comments count)",
            location="policy.yaml spec.kubernetes.enforcer")
    return out


def kubeconfig(context: str) -> str:
    """A kubeconfig whose one context (named like the pool's) reaches this cluster with the pod's token.

    ``tokenFile`` is read when the client loads the kubeconfig, so a rotated token is picked up
    by the next run of the CronJob.
    """
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {"server": API_SERVER, "certificate-authority": CA}}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"tokenFile": TOKEN}}],
        "contexts": [{"name": context, "context": {"cluster": "in-cluster", "user": SERVICE_ACCOUNT}}],
        "current-context": context,
    }
    return str(yaml.safe_dump(config, sort_keys=True, default_flow_style=False))


def command(settings: policies.Enforcer, *, pool: str) -> list[str]:
    """The enforcer's command line: one acting cycle on this pool only, JSON on stdout for the logs."""
    args = ["dctenant", "enforce", QUOTAS_DIR, "--pool", pool, "--once", "--act",
            "--prometheus", settings.prometheus_url, "--kubeconfig", f"{SETTINGS_DIR}/{KUBECONFIG}",
            "--state", f"{STATE_DIR}/enforcer.json"]
    if settings.ledger_secret is None:
        args += ["--ledger", settings.ledger or DEFAULT_LEDGER]
    return [*args, "--output", "json"]


def cron_job(settings: policies.Enforcer, *, pool: str, labels: Mapping[str, str], namespace: str,
             items: list[dict[str, str]]) -> Manifest:
    """The CronJob: never two at once, no retries within a run (the next schedule is the retry)."""
    env: list[dict[str, Any]] = [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]
    if settings.ledger_secret is not None:
        env.append({"name": "DCTENANT_LEDGER", "valueFrom": {"secretKeyRef": {
            "name": settings.ledger_secret.name, "key": settings.ledger_secret.key}}})
    container: dict[str, Any] = {
        "name": "enforce",
        "image": settings.image,
        "command": command(settings, pool=pool),
        "env": env,
        "resources": {k: dict(v) for k, v in RESOURCES.items()},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True},
        "volumeMounts": [
            {"name": "quotas", "mountPath": QUOTAS_DIR, "readOnly": True},
            {"name": "settings", "mountPath": SETTINGS_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if settings.environment_secret:
        # Optional: a site without Prometheus credentials or a webhook need not create the Secret.
        container["envFrom"] = [{"secretRef": {"name": settings.environment_secret, "optional": True}}]
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
                                "fsGroup": USER_ID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [
                {"name": "quotas", "configMap": {"name": QUOTAS_CONFIG, "items": items}},
                {"name": "settings", "configMap": {"name": SETTINGS_CONFIG}},
                {"name": "state", "persistentVolumeClaim": {"claimName": CLAIM}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            ],
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": CRON_JOB, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "schedule": settings.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 120,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": dict(labels)},
                            "spec": {"backoffLimit": 0, "template": pod}},
        },
    }
