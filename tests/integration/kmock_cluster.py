"""A kmock ``KubernetesEmulator`` served over real HTTP, for the real ``kubernetes`` client to talk to.

kmock is asyncio-based and the ``kubernetes`` client is synchronous, so each emulator runs its own
event loop in a background thread and listens on 127.0.0.1 on a random free port. ``kubeconfig``
writes a kubeconfig file with one context per emulator, so that the code under test reaches each
"cluster" exactly as it would reach a real one: through a kubeconfig context.

Two things are added to kmock 0.8 here, both kept small:

* ``parse_path`` is replaced (see ``_parse_path``): kmock reads ``/api/v1/namespaces/...`` as a
  namespace prefix, so the Namespace resource itself cannot be created or read (POST answers 500).
* ``FaultyEmulator`` can fail chosen requests (HTTP 500, before kmock changes its state), so that
  a test can break an apply half-way, exactly once, like a flaky API server would; and it can run a
  test's hook before a request is served (``before``), which is how a test plays the other party of
  a race (a tenant creating a PVC, another apply taking the lease) at an exact step.

Three gaps of kmock 0.8 against a real API server are closed here, in the emulator (never in the
product), because the code under test depends on them:

* **Apply creates.** A server-side apply ``PATCH`` (``application/apply-patch+yaml``) to a missing
  object creates it, as a real API server does; kmock answers 404.
* **resourceVersion.** Every create and update stores a new ``metadata.resourceVersion`` (one
  counter per emulator, as etcd's revision). A ``PUT`` (replace, which kmock does not serve) and a
  patch carrying ``metadata.resourceVersion`` are refused with 409 when it is not the stored one; a
  ``DELETE`` with ``preconditions.resourceVersion`` likewise. The lease's compare-and-swap and the
  guarded prune's delete precondition rely on exactly this.
* ``PUT`` replaces the whole object (kmock serves no PUT at all).

And one rule of the rendered admission policy, which kmock cannot evaluate: in a namespace labelled
``dctenant.io/pruning: "true"`` the creation of pods, PVCs and workload controllers is refused (403)
for everyone but dctenant. ``admission = False`` turns it off, to show what the guard relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import pathlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import aiohttp.web
import kmock
import yaml
from kmock._internal import parsing, rendering

from dctenant.clients import kube
from dctenant.domain import changes

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    """kmock's ``parse_path``, except that the core Namespace resource is the plural ``namespaces``.

    Why: kmock treats ``namespaces/<x>`` after ``/api/v1`` as the namespace scope of a namespaced
    resource, so ``POST /api/v1/namespaces`` and ``GET /api/v1/namespaces/<name>`` lose their
    resource and kmock answers 500 (reported in TESTING-NOTES.md). Everything else is unchanged.
    """
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and (
        len(parts) <= 4 or (len(parts) == 5 and parts[4] in ("status", "finalize"))
    ):
        name = parts[3] if len(parts) >= 4 else None
        sub = parts[4] if len(parts) == 5 else None
        return parsing.ParsedPath(group="", version="v1", plural="namespaces", name=name, subresource=sub)
    return _original_parse_path(path)


# The request parser looks the function up in the rendering module's namespace, so patch both.
parsing.parse_path = _parse_path
rendering.parsing.parse_path = _parse_path  # type: ignore[attr-defined]

EXTRA = (kube.LEASE, kube.POD, kube.CLAIM, kube.DEPLOYMENT, kube.STATEFULSET, kube.REPLICASET, kube.DAEMONSET,
         kube.JOB)
# What the isolation helper's admission policy refuses in a namespace labelled for pruning.
GUARDED = frozenset({"pods", "persistentvolumeclaims", "deployments", "statefulsets", "replicasets", "daemonsets",
                     "jobs", "cronjobs"})


def resource(what: kube.Kind) -> kmock.resource:
    group, _, version = what.api_version.rpartition("/")
    return kmock.resource(group, version, what.plural)


APPLY_PATCH = "application/apply-patch+yaml"


def _conflict(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=409, reason="Conflict", message=message)


class FaultyEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """A KubernetesEmulator with faults, test hooks, apply-creates and resourceVersion (see the module docstring)."""

    fail_when: Callable[[rendering.Request], bool] | None = None
    fail_times: int = 0
    # Called (in the server thread, before the request changes anything) with each request; a test
    # uses it to change the state at an exact step, as a concurrent client would.
    before: Callable[[rendering.Request], None] | None = None
    _versions: Iterator[int] = itertools.count(1)
    admission = True

    def admits(self, plural: str, namespace: str | None) -> bool:
        """The pruning rule of the admission policy, for a tenant (not dctenant) creating an object."""
        if not namespace:
            return True
        home = (kmock.resource("", "v1", "namespaces"), None, namespace)
        if home not in self._objects or self._objects[home].deleted:
            return False  # as a real server: nothing is created in a namespace that does not exist
        labels = (self._objects[home].raw.get("metadata") or {}).get("labels") or {}
        return not self.admission or plural not in GUARDED or labels.get(changes.PRUNING) != "true"

    def stamp(self, data: Any) -> str:
        """Give an object (or a patch) the next resourceVersion; returns it."""
        version = str(next(self._versions))
        if isinstance(data, dict):
            data.setdefault("metadata", {})["resourceVersion"] = version
        return version

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if self.before is not None:
            self.before(request)
        if self.fail_when is not None and self.fail_times > 0 and self.fail_when(request):
            self.fail_times -= 1
            raise kmock.KubernetesError(status=500, reason="InternalError", message="injected failure")
        if request.resource is None:
            return await super()._handle(request)
        method = str(request.method.value).upper()
        key = (request.resource, request.namespace, request.name)
        async with self._lock:
            stored = self._objects[key] if request.name is not None and key in self._objects else None
            live = stored is not None and not stored.deleted
            current = str(((stored.raw if live else {}).get("metadata") or {}).get("resourceVersion") or "")
            data = request.data if isinstance(request.data, dict) else {}
            if method == "PUT" and request.name is not None:
                if not live:
                    raise kmock.KubernetesError(status=404, reason="NotFound", message=f"{request.name} not found")
                wanted = str((data.get("metadata") or {}).get("resourceVersion") or "")
                if wanted and wanted != current:
                    raise _conflict(f"Operation cannot be fulfilled on {request.name}: the object has been "
                                    "modified; please apply your changes to the latest version and try again")
                replaced = copy.deepcopy(data)
                self.stamp(replaced)
                stored.create(replaced)
                return aiohttp.web.json_response(stored.raw, status=200)
            if method == "PATCH" and request.name is not None:
                wanted = str((data.get("metadata") or {}).get("resourceVersion") or "")
                if live and wanted and wanted != current:
                    raise _conflict(f"Operation cannot be fulfilled on {request.name}: the object has been modified")
                if not live and APPLY_PATCH in request.headers.get("Content-Type", ""):
                    # A real API server creates the object on apply; kmock 0.8 answers 404.
                    created = copy.deepcopy(data)
                    created.setdefault("metadata", {}).setdefault("name", request.name)
                    if request.namespace:
                        created["metadata"].setdefault("namespace", request.namespace)
                    self.stamp(created)
                    if stored is None:
                        self._objects[key] = created
                    else:
                        stored.create(created)
                    return aiohttp.web.json_response(self._objects[key].raw, status=201)
                if live:
                    self.stamp(data)
            if method == "DELETE" and request.name is not None and live:
                wanted = str((data.get("preconditions") or {}).get("resourceVersion") or "")
                if wanted and wanted != current:
                    raise _conflict(f"Precondition failed: ResourceVersion in precondition: {wanted}, "
                                    f"ResourceVersion in object meta: {current}")
            if method == "POST":
                # dctenant's own requests carry its kubeconfig token; anyone else is a tenant.
                tenant = "secret-token-" not in request.headers.get("Authorization", "")
                if tenant and not self.admits(request.resource.plural, request.namespace):
                    raise kmock.KubernetesError(status=403, reason="Forbidden",
                                                message="namespace is being pruned by dctenant")
                self.stamp(data)
        return await super()._handle(request)


class Emulator:
    """One emulated cluster in a background thread; the test thread inspects it between calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.handler = FaultyEmulator()
        self.server = kmock.Server(self.handler)
        for what in (*kube.MANAGED, *EXTRA):
            self.handler.resources[resource(what)] = {"kind": what.kind, "namespaced": what.namespaced,
                                                      "verbs": ["get", "list", "create", "update", "patch", "delete"]}

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> Emulator:
        self.thread.start()
        self._run(self.handler.__aenter__())
        self._run(self.server.__aenter__())
        return self

    def stop(self) -> None:
        self._run(self.server.__aexit__(None, None, None))
        self._run(self.handler.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    # Inspection and set-up (only between client calls: the server thread is idle then).

    def objects(self, kind: str) -> dict[tuple[str | None, str], dict[str, Any]]:
        """The live (not deleted) objects of one kind, by (namespace, name)."""
        wanted = resource(kube.KINDS[kind])
        return {(ns, name): obj.raw for (res, ns, name), obj in self.handler.objects.items()
                if res == wanted and not obj.deleted}

    def put(self, manifest: Mapping[str, Any]) -> None:
        """Store an object directly, as if someone else had created it (pods, foreign leases, big states)."""
        stored = copy.deepcopy(dict(manifest))
        self.handler.stamp(stored)  # a new version, as any write by anyone else would have
        meta = stored["metadata"]
        self.handler.objects[resource(kube.KINDS[manifest["kind"]]), meta.get("namespace"), meta["name"]] = stored

    def tenant_creates(self, manifest: Mapping[str, Any]) -> bool:
        """A tenant creates an object, through admission (callable from a ``before`` hook); True if admitted."""
        what = kube.KINDS[manifest["kind"]]
        if not self.handler.admits(what.plural, manifest["metadata"].get("namespace")):
            return False
        self.put(manifest)
        return True

    def forget_requests(self) -> None:
        """Drop the served-request log: kmock scans it on every request, so a long test slows down."""
        self.handler._requests.clear()

    def before(self, hook: Callable[[rendering.Request], None] | None) -> None:
        self.handler.before = hook

    def requests(self) -> list[tuple[str, str]]:
        """Every request served so far, as (METHOD, path)."""
        return [(str(r.method.value).upper(), r.url.path) for r in self.handler]

    def writes(self, *, leases: bool = False) -> list[tuple[str, str]]:
        """Requests that modify state; lease traffic is left out unless asked for."""
        return [(m, p) for m, p in self.requests()
                if m in ("POST", "PUT", "PATCH", "DELETE") and (leases or "/leases" not in p)]

    def fail(self, when: Callable[[rendering.Request], bool], *, times: int = 1) -> None:
        self.handler.fail_when = when
        self.handler.fail_times = times


def kubeconfig(path: pathlib.Path, contexts: Mapping[str, Emulator]) -> pathlib.Path:
    """Write a kubeconfig with one context (and cluster, and user with a dummy token) per emulator."""
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": e.url}} for c, e in contexts.items()],
        "users": [{"name": f"{c}-admin", "user": {"token": f"secret-token-{c}"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": f"{c}-admin"}} for c in contexts],
        "current-context": next(iter(contexts)),
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@contextlib.contextmanager
def emulators(names: Sequence[str]) -> Iterator[dict[str, Emulator]]:
    """Start one emulator per context name; stop them all afterwards."""
    started: dict[str, Emulator] = {}
    try:
        for name in names:
            started[name] = Emulator().start()
        yield started
    finally:
        # Each kmock server chains a resolver into aiohttp's connector class: unwind in reverse order.
        for emulator in reversed(started.values()):
            emulator.stop()
