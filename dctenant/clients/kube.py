"""The Kubernetes API as dctenant uses it: list managed objects, server-side apply, delete, lease.

This is the only module that imports ``kubernetes`` (lazily, so ``dctenant --help`` stays fast).
It talks to the API through the client's low-level ``ApiClient`` with a fixed table of the kinds
dctenant manages rather than through discovery: one request per kind to list, none to discover,
and the same paths against a real API server and against the kmock emulator used in tests.

Every failure leaves this module as a ``BackendError`` that names the pool's context and server
and never the credentials; API errors carry the HTTP status (``ApiError``) so callers can act on
404 and 409.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dctenant.domain import changes
from dctenant.errors import BackendError, suggestion

FIELD_MANAGER = changes.MANAGER
SELECTOR = f"{changes.MANAGED_BY}={changes.MANAGER}"
TIMEOUT = (5.0, 60.0)  # connect, read (seconds): a lost cluster fails fast, a large list may take a while
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # Kubernetes MicroTime


@dataclass(frozen=True, kw_only=True)
class Kind:
    """Where the API serves one kind: its group/version, plural and scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{scope}/{self.plural}" + (f"/{name}" if name else "")


CLAIM = Kind(api_version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims", namespaced=True)
MANAGED = (
    Kind(api_version="v1", kind="Namespace", plural="namespaces", namespaced=False),
    Kind(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole", plural="clusterroles", namespaced=False),
    Kind(api_version="admissionregistration.k8s.io/v1", kind="ValidatingAdmissionPolicy",
         plural="validatingadmissionpolicies", namespaced=False),
    Kind(api_version="admissionregistration.k8s.io/v1", kind="ValidatingAdmissionPolicyBinding",
         plural="validatingadmissionpolicybindings", namespaced=False),
    Kind(api_version="v1", kind="ResourceQuota", plural="resourcequotas", namespaced=True),
    Kind(api_version="v1", kind="LimitRange", plural="limitranges", namespaced=True),
    Kind(api_version="networking.k8s.io/v1", kind="NetworkPolicy", plural="networkpolicies", namespaced=True),
    Kind(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding", plural="rolebindings", namespaced=True),
    Kind(api_version="v1", kind="ConfigMap", plural="configmaps", namespaced=True),
    # The in-cluster enforcer (render.enforcer), in the system namespace.
    Kind(api_version="v1", kind="ServiceAccount", plural="serviceaccounts", namespaced=True),
    Kind(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding", plural="clusterrolebindings",
         namespaced=False),
    CLAIM,
    Kind(api_version="batch/v1", kind="CronJob", plural="cronjobs", namespaced=True),
)
"""The kinds dctenant renders, listed once each per pool to find what exists and what to prune."""

LEASE = Kind(api_version="coordination.k8s.io/v1", kind="Lease", plural="leases", namespaced=True)
POD = Kind(api_version="v1", kind="Pod", plural="pods", namespaced=True)
DEPLOYMENT = Kind(api_version="apps/v1", kind="Deployment", plural="deployments", namespaced=True)
STATEFULSET = Kind(api_version="apps/v1", kind="StatefulSet", plural="statefulsets", namespaced=True)
EVENT = Kind(api_version="v1", kind="Event", plural="events", namespaced=True)
WORKLOADS = (DEPLOYMENT, STATEFULSET)
"""What enforcement scales and annotates: the workloads whose replicas a suspension sets to zero."""
KINDS = {k.kind: k for k in (*MANAGED, LEASE, POD, CLAIM, DEPLOYMENT, STATEFULSET, EVENT)}
ENFORCER = changes.ENFORCER  # field manager of enforcement's patches, told apart from apply's


class ApiError(BackendError):
    """The API server refused a request: its HTTP status and the server's own message."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise BackendError(f"dctenant does not know where the API serves kind {name}") from None


class Cluster:
    """One pool's cluster, reached through one kubeconfig context; counts the requests it sends."""

    def __init__(self, *, api: Any, context: str, server: str) -> None:
        self._api = api
        self.context = context
        self.server = server
        self.requests: collections.Counter[str] = collections.Counter()  # by HTTP method

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.requests.items() if method != "GET")

    def close(self) -> None:
        self._api.close()

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Mapping[str, Any] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        """Send one request and return the decoded JSON answer; errors become ``BackendError``."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json", "Content-Type": content_type}
        # The client serialises dict bodies itself, as JSON (which is also YAML, for apply patches).
        payload = None if body is None else dict(body)
        self.requests[method] += 1
        try:
            _, url, headers, payload, _ = self._api.param_serialize(
                method=method, resource_path=path, query_params=list((query or {}).items()),
                header_params=headers, body=payload, auth_settings=["BearerToken"])
            response = self._api.call_api(method, url, header_params=headers, body=payload,
                                          _request_timeout=TIMEOUT)
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError, ApiException) as exc:
            raise BackendError(f"cannot reach the cluster of context {self.context} at {self.server}: "
                               f"{_reason(exc)}") from None
        if response.status >= 400:
            raise ApiError(f"{method} {path}: {response.status} {_message(data, response.reason)}",
                           status=response.status)
        if not data:
            return {}
        try:
            decoded: dict[str, Any] = json.loads(data)
        except ValueError:
            raise BackendError(f"{method} {path}: the server at {self.server} did not answer JSON") from None
        return decoded

    def list_managed(self, what: Kind) -> list[dict[str, Any]]:
        """All objects of one kind labelled managed-by dctenant, in all namespaces, in one request.

        The items of a real list answer carry no ``kind``/``apiVersion``; they are filled in here so
        that the planner can key objects the same way as desired manifests. A kind the server does
        not serve (404) has no objects.
        """
        try:
            answer = self.call("GET", what.path(), query={"labelSelector": SELECTOR})
        except ApiError as exc:
            if exc.status == 404:
                return []
            raise
        items: list[dict[str, Any]] = answer.get("items") or []
        for item in items:
            item.setdefault("apiVersion", what.api_version)
            item.setdefault("kind", what.kind)
        return items

    def apply(self, manifest: Mapping[str, Any], *, force_conflicts: bool = False) -> str:
        """Server-side apply with field manager ``dctenant``; returns ``"applied"`` or ``"created"``.

        A real API server creates a missing object on apply. If an apply answers 404 anyway (an
        emulator without apply support, or a namespace that is missing), the object is created
        with POST instead; when the cause was the missing namespace that fails as well, clearly.
        """
        what = kind(str(manifest["kind"]))
        meta = manifest["metadata"]
        query = {"fieldManager": FIELD_MANAGER}
        if force_conflicts:
            query["force"] = "true"
        try:
            self.call("PATCH", what.path(namespace=meta.get("namespace"), name=meta["name"]), query=query,
                      body=manifest, content_type="application/apply-patch+yaml")
        except ApiError as exc:
            if exc.status == 409:
                raise ApiError(f"{exc}; another field manager owns these fields: rerun with --force-conflicts "
                               "to take them over", status=409) from None
            if exc.status != 404:
                raise
            self.call("POST", what.path(namespace=meta.get("namespace")),
                      query={"fieldManager": FIELD_MANAGER}, body=manifest)
            return "created"
        return "applied"

    def unmark(self, *, kind_name: str, name: str, namespace: str | None = None) -> None:
        """Remove the enforcer's marks (``apply --release-enforcement``), as a merge patch by ``dctenant``.

        Server-side apply cannot remove fields that another manager owns, and the marks belong
        to the enforcer; a merge patch (an update, which never conflicts) can.
        """
        self.call("PATCH", kind(kind_name).path(namespace=namespace, name=name), query={"fieldManager": FIELD_MANAGER},
                  body={"metadata": {"annotations": {changes.ENFORCEMENT: None, changes.ENFORCEMENT_SINCE: None}}},
                  content_type="application/merge-patch+json")

    def delete(self, *, kind_name: str, name: str, namespace: str | None = None) -> None:
        """Delete one object; one that is already gone counts as deleted (so a rerun resumes)."""
        try:
            self.call("DELETE", kind(kind_name).path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status != 404:
                raise

    def occupancy(self, namespace: str) -> changes.Occupancy:
        """How many pods and PVCs a namespace holds (``limit=1``: a count, not the objects)."""
        return changes.Occupancy(pods=self._count(POD, namespace), claims=self._count(CLAIM, namespace))

    def _count(self, what: Kind, namespace: str) -> int:
        answer = self.call("GET", what.path(namespace=namespace), query={"limit": "1"})
        remaining = (answer.get("metadata") or {}).get("remainingItemCount") or 0
        return len(answer.get("items") or []) + int(remaining)

    # Enforcement's actions: small merge patches under their own field manager, so that an audit of
    # managedFields shows which changes the enforcer made and which ``apply`` made.

    def patch(self, what: Kind, *, name: str, namespace: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (``None`` removes a key), field manager ``dctenant-enforcer``."""
        return self.call("PATCH", what.path(namespace=namespace, name=name), query={"fieldManager": ENFORCER},
                         body=patch, content_type="application/merge-patch+json")

    def list_in(self, what: Kind, *, namespace: str) -> list[dict[str, Any]]:
        """Every object of a kind in one namespace (a kind the server does not serve has none)."""
        try:
            items: list[dict[str, Any]] = self.call("GET", what.path(namespace=namespace)).get("items") or []
        except ApiError as exc:
            if exc.status == 404:
                return []
            raise
        return items

    def event(self, *, namespace: str, reason: str, message: str, warning: bool = True,
              at: dt.datetime | None = None) -> None:
        """A ``v1`` Event about the namespace itself, as ``kubectl describe namespace`` shows them."""
        when = (at or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = f"dctenant.{(at or _now()).strftime('%Y%m%d%H%M%S%f')}"
        self.call("POST", EVENT.path(namespace=namespace), body={
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace, "labels": {changes.MANAGED_BY: changes.MANAGER}},
            "involvedObject": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
            "reason": reason, "message": message[:1024], "type": "Warning" if warning else "Normal",
            "source": {"component": ENFORCER}, "firstTimestamp": when, "lastTimestamp": when, "count": 1})

    def get(self, what: Kind, *, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.call("GET", what.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise


def connect(*, context: str, kubeconfig: str | None = None) -> Cluster:
    """A client for one kubeconfig context; a missing file or context is a ``BackendError``."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        where = kubeconfig or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
        raise BackendError(f"cannot read {where}: {_reason(exc)}") from None
    names = [c["name"] for c in contexts or ()]
    if context not in names:
        hint = suggestion(context, names)
        known = ", ".join(sorted(names)) or "none"
        raise BackendError(f"kubeconfig has no context {context!r} (contexts: {known})"
                           + (f"; {hint}" if hint else ""))
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration)
    except (ConfigException, OSError, ValueError) as exc:
        raise BackendError(f"kubeconfig context {context!r} cannot be used: {_reason(exc)}") from None
    configuration.retries = 1  # a refused connection is reported at once, not after urllib3's default retries
    return Cluster(api=client.ApiClient(configuration), context=context, server=str(configuration.host))


class Lease:
    """A held ``coordination.k8s.io/v1`` Lease that keeps other applies off this cluster."""

    def __init__(self, cluster: Cluster, *, namespace: str, name: str, holder: str, duration: int) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration = duration
        self._renewed = dt.datetime.min.replace(tzinfo=dt.UTC)

    def acquire(self) -> None:
        """Take the lease if it is free, expired or ours; otherwise say who holds it until when."""
        lease = self.cluster.get(LEASE, name=self.name, namespace=self.namespace)
        if lease is None:
            try:
                self.cluster.call("POST", LEASE.path(namespace=self.namespace), body=self._body())
                self._renewed = _now()
                return
            except ApiError as exc:
                if exc.status != 409:
                    raise
                lease = self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}
        spec = lease.get("spec") or {}
        self._refuse_if_held(spec)
        patch: dict[str, Any] = {"spec": {**self._body()["spec"],
                                          "leaseTransitions": int(spec.get("leaseTransitions") or 0) + 1}}
        version = (lease.get("metadata") or {}).get("resourceVersion")
        if version:
            patch["metadata"] = {"resourceVersion": version}  # optimistic concurrency: lose a race, never share
        try:
            self._patch(patch)
        except ApiError as exc:
            if exc.status != 409:
                raise
            again = self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}
            self._refuse_if_held(again.get("spec") or {})
            raise
        self._renewed = _now()

    def renew(self) -> None:
        """Push the expiry forward when a third of the lease's duration has passed (cheap to call often)."""
        now = _now()
        if (now - self._renewed).total_seconds() >= self.duration / 3:
            self._patch({"spec": {"renewTime": now.strftime(TIME_FORMAT)}})
            self._renewed = now

    def release(self) -> None:
        current = self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}
        if (current.get("spec") or {}).get("holderIdentity") == self.holder:
            self._patch({"spec": {"holderIdentity": None, "renewTime": None}})

    def _patch(self, patch: Mapping[str, Any]) -> None:
        self.cluster.call("PATCH", LEASE.path(namespace=self.namespace, name=self.name), body=patch,
                          content_type="application/merge-patch+json")

    def _body(self) -> dict[str, Any]:
        now = _now().strftime(TIME_FORMAT)
        return {"apiVersion": LEASE.api_version, "kind": LEASE.kind,
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": {changes.MANAGED_BY: changes.MANAGER}},
                "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration,
                         "acquireTime": now, "renewTime": now}}

    def _refuse_if_held(self, spec: Mapping[str, Any]) -> None:
        holder = spec.get("holderIdentity")
        if not holder or holder == self.holder:
            return
        renewed = _parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        if renewed is None:
            return
        expires = renewed + dt.timedelta(seconds=duration)
        if expires <= _now():
            return
        raise BackendError(
            f"another apply is running on context {self.cluster.context}: lease {self.namespace}/{self.name} "
            f"is held by {holder} until {expires:%Y-%m-%d %H:%M:%S} UTC (renewed while it runs); "
            "wait for it to finish, or for the lease to expire if that apply died")


@contextlib.contextmanager
def holding(cluster: Cluster, *, namespace: str, name: str, holder: str, duration: int = 120,
            namespace_manifest: Mapping[str, Any] | None = None) -> Iterator[Lease]:
    """Hold the lease for the duration of the block; create its namespace first when missing."""
    if cluster.get(KINDS["Namespace"], name=namespace) is None:
        cluster.apply(namespace_manifest or {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": namespace, "labels": {changes.MANAGED_BY: changes.MANAGER}}})
    lease = Lease(cluster, namespace=namespace, name=name, holder=holder, duration=duration)
    lease.acquire()
    try:
        yield lease
    finally:
        with contextlib.suppress(BackendError):
            lease.release()  # if the cluster is gone, the lease expires by itself


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _message(data: bytes | None, reason: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` answer, else the HTTP reason (never headers)."""
    try:
        status = json.loads(data or b"")
    except ValueError:
        return str(reason or "")
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or reason or "")[:500]


def _reason(exc: BaseException) -> str:
    """A short cause without URLs' query strings or headers (which could carry credentials)."""
    reason = getattr(exc, "reason", None)
    text = str(reason) if reason is not None else str(exc)
    return " ".join(text.split())[:300] or type(exc).__name__

