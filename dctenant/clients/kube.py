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
import getpass
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dctenant.domain import changes
from dctenant.errors import BackendError, UserError, suggestion

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
REPLICASET = Kind(api_version="apps/v1", kind="ReplicaSet", plural="replicasets", namespaced=True)
DAEMONSET = Kind(api_version="apps/v1", kind="DaemonSet", plural="daemonsets", namespaced=True)
JOB = Kind(api_version="batch/v1", kind="Job", plural="jobs", namespaced=True)
NAMESPACE = MANAGED[0]
SCALABLE = (DEPLOYMENT, STATEFULSET, REPLICASET)
CONTROLLERS = (*SCALABLE, DAEMONSET, JOB, MANAGED[-1])
"""Workload controllers whose presence makes a namespace not empty (guarded prune); CronJob last."""
KINDS = {k.kind: k for k in (*MANAGED, LEASE, POD, CLAIM, DEPLOYMENT, STATEFULSET, REPLICASET, DAEMONSET, JOB,
                             EVENT)}


def extra_kind(text: str) -> Kind:
    """A kind staff name on the command line: a known kind (``Secret`` is not; ``Job`` is) or ``group/version/plural``.

    ``v1/secrets`` or ``postgresql.cnpg.io/v1/clusters``; the kind is then named by its plural.
    """
    if text in KINDS:
        return KINDS[text]
    api_version, _, plural = text.rpartition("/")
    if not api_version or not plural or api_version.count("/") > 1:
        raise UserError(f"unknown kind {text!r}: give a kind dctenant knows ({', '.join(sorted(KINDS))}) "
                        "or GROUP/VERSION/PLURAL such as v1/secrets or postgresql.cnpg.io/v1/clusters",
                        location="--content-kind")
    return Kind(api_version=api_version, kind=plural, plural=plural, namespaced=True)
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
        """Server-side apply with field manager ``dctenant`` (which creates a missing object); returns ``"applied"``.

        There is no fallback: a 404 means what the server says (most often that the object's
        namespace is missing) and is reported as such.
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
            raise
        return "applied"

    def unmark(self, *, kind_name: str, name: str, namespace: str | None = None) -> None:
        """Remove the enforcer's marks (``apply --release-enforcement``), as a merge patch by ``dctenant``.

        Server-side apply cannot remove fields that another manager owns, and the marks belong
        to the enforcer; a merge patch (an update, which never conflicts) can.
        """
        self.call("PATCH", kind(kind_name).path(namespace=namespace, name=name), query={"fieldManager": FIELD_MANAGER},
                  body={"metadata": {"annotations": {changes.ENFORCEMENT: None, changes.ENFORCEMENT_SINCE: None}}},
                  content_type="application/merge-patch+json")

    def delete(self, *, kind_name: str, name: str, namespace: str | None = None, version: str = "") -> None:
        """Delete one object; one that is already gone counts as deleted (so a rerun resumes).

        With ``version``, the delete carries a precondition on the object's ``resourceVersion``: the
        server refuses it (409) if the object changed since that version was read.
        """
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": version}} \
            if version else None
        try:
            self.call("DELETE", kind(kind_name).path(namespace=namespace, name=name), body=body)
        except ApiError as exc:
            if exc.status != 404:
                raise

    def occupancy(self, namespace: str) -> changes.Occupancy:
        """How many pods and PVCs a namespace holds (``limit=1``: a count, not the objects)."""
        return changes.Occupancy(pods=self._count(POD, namespace), claims=self._count(CLAIM, namespace))

    def contents(self, namespace: str, *, extra: tuple[Kind, ...] = (), scaled_to_zero_is_content: bool = True
                 ) -> changes.Occupancy:
        """What pruning a namespace would destroy: pods, PVCs, workload controllers, and objects of ``extra`` kinds.

        A Deployment, StatefulSet or ReplicaSet at zero replicas counts unless
        ``scaled_to_zero_is_content`` is false (a tenant may have scaled down to keep its config).
        Objects labelled managed-by dctenant are apply's own, pruned with the namespace, and not counted.
        """
        workloads = 0
        for what in CONTROLLERS:
            for item in self.list_in(what, namespace=namespace):
                labels = (item.get("metadata") or {}).get("labels") or {}
                if labels.get(changes.MANAGED_BY) == changes.MANAGER:
                    continue
                replicas = (item.get("spec") or {}).get("replicas")
                scalable = what in SCALABLE
                if scaled_to_zero_is_content or not scalable or replicas is None or int(replicas) > 0:
                    workloads += 1
        others = tuple((what.kind, n) for what in extra if (n := len(self.list_in(what, namespace=namespace))))
        return changes.Occupancy(pods=self._count(POD, namespace), claims=self._count(CLAIM, namespace),
                                 workloads=workloads, others=others)

    def mark_pruning(self, name: str) -> str:
        """Label a namespace as being pruned (admission then refuses new content); returns its new resourceVersion."""
        answer = self.call("PATCH", NAMESPACE.path(name=name), query={"fieldManager": FIELD_MANAGER},
                           body={"metadata": {"labels": {changes.PRUNING: "true"}}},
                           content_type="application/merge-patch+json")
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def unmark_pruning(self, name: str) -> None:
        """Remove the pruning label from a namespace that is kept after all."""
        self.call("PATCH", NAMESPACE.path(name=name), query={"fieldManager": FIELD_MANAGER},
                  body={"metadata": {"labels": {changes.PRUNING: None}}},
                  content_type="application/merge-patch+json")

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Clock:
    """The two clocks a lease needs, injectable so that tests control time instead of sleeping.

    ``monotonic`` (seconds, never jumps) is what this process trusts for how long it has held the
    lease; ``wall`` (UTC) is only what it writes into the lease for *other* processes to read.
    """

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = _now


SYSTEM_CLOCK = Clock()
LEASE_SECONDS = 120
RENEW_AFTER = LEASE_SECONDS / 3  # renew when a third has passed, so others see a fresh renewTime
# A write is sent only while more than this is left of the lease by our own monotonic clock: the
# longest a request may take (connect + read timeout) plus the clock skew between hosts tolerated
# when another apply judges expiry from the renewTime we wrote. See docs/apply.md "Fencing".
SAFE_MARGIN = TIMEOUT[0] + TIMEOUT[1] + 5.0

_IDENTITY = re.compile(r"^(?P<user>[^@]*)@(?P<host>\S+) \(pid (?P<pid>\d+)(?:, pidns (?P<pidns>\d+))?\)$")


@dataclass(frozen=True, kw_only=True)
class Holder:
    """Who holds a lease, parsed from its ``holderIdentity`` (``user@host (pid N, pidns M)``)."""

    identity: str
    host: str = ""
    pid: int | None = None
    pidns: str = ""  # the PID namespace: two containers may share a host name but not PIDs

    @classmethod
    def parse(cls, identity: str) -> Holder:
        match = _IDENTITY.match(identity)
        if match is None:
            return cls(identity=identity)
        return cls(identity=identity, host=match["host"], pid=int(match["pid"]), pidns=match["pidns"] or "")

    def here(self) -> bool:
        """True when the holder ran on this host, in this PID namespace (so its PID can be checked)."""
        return bool(self.pid) and self.host == socket.gethostname() and bool(self.pidns) \
            and self.pidns == _pid_namespace()

    def dead(self) -> bool:
        """True only when the holder is on this host and its process is gone (or a zombie)."""
        return self.here() and self.pid is not None and not _running(self.pid)


def identity() -> str:
    """This process's holder identity: user, host, PID and PID namespace."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    pidns = _pid_namespace()
    return f"{user}@{socket.gethostname()} (pid {os.getpid()}" + (f", pidns {pidns})" if pidns else ")")


def _pid_namespace() -> str:
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return link.partition("[")[2].rstrip("]")


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a zombie has exited; only its entry is left)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[:1]
    except OSError:
        return True
    return state != ["Z"]


@dataclass(frozen=True, kw_only=True)
class Takeover:
    """A lease taken from another holder: who had it, until when, and why it could be taken."""

    previous: str
    renewed: str  # the previous holder's last renewTime, as it was written
    why: str  # "expired", "holder dead on this host" or "broken by staff"


class LeaseHeldError(BackendError):
    """Another live apply holds the lease (or won the race for it): nothing was written."""

    def __init__(self, message: str, *, holder: Holder, until: dt.datetime | None) -> None:
        super().__init__(message)
        self.holder = holder
        self.until = until


class LeaseLostError(BackendError):
    """The lease was taken over while this apply ran: it must stop and write nothing more."""


Confirm = Callable[[Holder, "dt.datetime | None"], bool]


class Lease:
    """The ``coordination.k8s.io/v1`` Lease that fences apply: one holder, and a stale one cannot write.

    Every change to the lease is a compare-and-swap: a ``PUT`` carrying the ``resourceVersion`` last
    seen, which the API server refuses (409) if anyone changed the lease since. So whoever takes it
    over invalidates the old holder's version, and the old holder's next renewal fails.
    ``ensure()`` is called before every write: it renews when a third of the lease has passed by this
    process's monotonic clock and stops apply (``LeaseLostError``) when the renewal fails or when less than
    ``SAFE_MARGIN`` would be left. A process that was paused finds, on waking, that its monotonic
    clock has moved on, renews, and learns there whether someone else took over.
    """

    def __init__(self, cluster: Cluster, *, namespace: str, name: str, holder: str, duration: int = LEASE_SECONDS,
                 clock: Clock | None = None, where: str = "") -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration = duration
        self.clock = clock or SYSTEM_CLOCK
        self.where = where or f"context {cluster.context}"
        self.takeover: Takeover | None = None
        self.lost = False
        self._version = ""
        self._renewed = float("-inf")  # monotonic time at which the last successful renewal was *sent*
        self._lease: dict[str, Any] = {}

    @property
    def ref(self) -> str:
        return f"lease {self.namespace}/{self.name} on {self.where}"

    def acquire(self, *, confirm_break: Confirm | None = None) -> None:
        """Take the lease if it is free, ours, expired or held by a dead process; else say who holds it.

        ``confirm_break`` is asked (with the holder and its expiry) before taking over a live-looking
        lease held elsewhere (``apply --break-lease``); without it, or when it says no, apply stops.
        """
        lease = self.cluster.get(LEASE, name=self.name, namespace=self.namespace)
        if lease is None:
            sent = self.clock.monotonic()
            try:
                created = self.cluster.call("POST", LEASE.path(namespace=self.namespace), body=self._body(None))
            except ApiError as exc:
                if exc.status != 409:
                    raise
                self._refuse(self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}, raced=True)
                raise  # not reached: _refuse raises
            self._held(created, sent)
            return
        spec = lease.get("spec") or {}
        holder = Holder.parse(str(spec.get("holderIdentity") or ""))
        why = ""
        if holder.identity and holder.identity != self.holder:
            until = self._expiry(spec)
            if until is None or until <= self.clock.wall():
                why = "expired"
            elif holder.dead():
                why = "holder dead on this host"
            elif holder.here():
                self._refuse(lease)  # alive on this very host: never broken
            elif confirm_break is not None and confirm_break(holder, until):
                why = "broken by staff"
            else:
                self._refuse(lease)
        sent = self.clock.monotonic()
        try:
            taken = self._replace(lease, {"holderIdentity": self.holder, "acquireTime": self._stamp(),
                                          "renewTime": self._stamp(), "leaseDurationSeconds": self.duration,
                                          "leaseTransitions": int(spec.get("leaseTransitions") or 0) + 1})
        except ApiError as exc:
            if exc.status != 409:
                raise
            # Another apply changed the lease between our read and our write: it won the race.
            self._refuse(self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}, raced=True)
            raise  # not reached
        if why:
            self.takeover = Takeover(previous=holder.identity, renewed=str(spec.get("renewTime") or ""), why=why)
        self._held(taken, sent)

    def remaining(self) -> float:
        """Seconds of the lease left by this process's own monotonic clock (from when the renewal was sent)."""
        return self.duration - (self.clock.monotonic() - self._renewed)

    def ensure(self) -> None:
        """Before a write: renew when due (compare-and-swap); stop if the lease was lost or is too short."""
        if self.lost:
            raise LeaseLostError(f"{self.ref} was lost; this apply writes nothing more")
        if self.clock.monotonic() - self._renewed >= min(RENEW_AFTER, self.duration - SAFE_MARGIN):
            self.renew()
        if self.remaining() <= SAFE_MARGIN:
            self.lost = True
            raise LeaseLostError(f"{self.ref}: renewing took too long ({self.remaining():.0f} s of the lease left, "
                            f"{SAFE_MARGIN:.0f} s needed for a write); apply stopped and writes nothing more")

    def renew(self) -> None:
        """Push the expiry forward by compare-and-swap on the version this process last wrote."""
        sent = self.clock.monotonic()
        spec = {**(self._lease.get("spec") or {}), "holderIdentity": self.holder, "renewTime": self._stamp()}
        try:
            renewed = self._replace(self._lease, spec)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
            self.lost = True
            current = self.cluster.get(LEASE, name=self.name, namespace=self.namespace) or {}
            now = str((current.get("spec") or {}).get("holderIdentity") or "")
            raise LeaseLostError(self._lost_message(now)) from None
        self._held(renewed, sent)

    def release(self) -> None:
        """Give the lease up (compare-and-swap: a lease someone else took over is left to them)."""
        if self.lost or not self._version:
            return
        try:
            self._replace(self._lease, {**(self._lease.get("spec") or {}), "holderIdentity": None,
                                        "renewTime": None})
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise

    def _lost_message(self, now: str) -> str:
        who = f" (now held by {now})" if now else " (the lease is free again: that apply has finished)"
        return (f"another apply took over {self.ref}{who} while this one ran; this apply stopped and "
                "wrote nothing more: run diff to see the cluster as the other apply left it")

    def _held(self, answer: Mapping[str, Any], sent: float) -> None:
        self._lease = dict(answer)
        self._version = str((answer.get("metadata") or {}).get("resourceVersion") or "")
        self._renewed = sent

    def _replace(self, lease: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
        meta = dict(lease.get("metadata") or {})
        body = {"apiVersion": LEASE.api_version, "kind": LEASE.kind,
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": meta.get("labels") or {changes.MANAGED_BY: changes.MANAGER},
                             "resourceVersion": str(meta.get("resourceVersion") or "")},
                "spec": {k: v for k, v in spec.items() if v is not None}}
        return self.cluster.call("PUT", LEASE.path(namespace=self.namespace, name=self.name), body=body)

    def _stamp(self) -> str:
        return self.clock.wall().strftime(TIME_FORMAT)

    def _body(self, spec: Mapping[str, Any] | None) -> dict[str, Any]:
        now = self._stamp()
        return {"apiVersion": LEASE.api_version, "kind": LEASE.kind,
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": {changes.MANAGED_BY: changes.MANAGER}},
                "spec": dict(spec or {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration,
                                      "acquireTime": now, "renewTime": now, "leaseTransitions": 0})}

    def _expiry(self, spec: Mapping[str, Any]) -> dt.datetime | None:
        renewed = _parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        if renewed is None:
            return None
        return renewed + dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or self.duration))

    def _refuse(self, lease: Mapping[str, Any], *, raced: bool = False) -> None:
        spec = lease.get("spec") or {}
        holder = Holder.parse(str(spec.get("holderIdentity") or "another apply"))
        until = self._expiry(spec)
        when = f" until {until:%Y-%m-%d %H:%M:%S} UTC (renewed while it runs)" if until else ""
        if raced:
            head = f"another apply took {self.ref} first: it is held by {holder.identity}{when}"
        else:
            head = f"another apply is running: {self.ref} is held by {holder.identity}{when}"
        if holder.here():
            hint = "; that process is alive on this host: wait for it to finish"
        else:
            hint = ("; wait for it to finish, or if that apply is dead (its host is gone), take the lease over "
                    "with --break-lease (recorded in the ledger)")
        raise LeaseHeldError(head + hint + "; nothing was written", holder=holder, until=until)


@contextlib.contextmanager
def holding(cluster: Cluster, *, namespace: str, name: str, holder: str, duration: int = LEASE_SECONDS,
            namespace_manifest: Mapping[str, Any] | None = None, clock: Clock | None = None,
            confirm_break: Confirm | None = None, where: str = "") -> Iterator[Lease]:
    """Hold the lease for the duration of the block; create its namespace first when missing."""
    if cluster.get(KINDS["Namespace"], name=namespace) is None:
        cluster.apply(namespace_manifest or {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": namespace, "labels": {changes.MANAGED_BY: changes.MANAGER}}})
    lease = Lease(cluster, namespace=namespace, name=name, holder=holder, duration=duration, clock=clock,
                  where=where)
    lease.acquire(confirm_break=confirm_break)
    try:
        yield lease
    finally:
        with contextlib.suppress(BackendError):
            lease.release()  # if the cluster is gone, the lease expires by itself


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

