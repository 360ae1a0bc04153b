"""In-memory stand-ins for the self-service service's cluster and ledger, for fast unit tests and the benchmark.

``FakeCluster`` keeps objects in a dict and answers the five calls the use-cases make (get,
apply, delete, occupancy, close) with the real API server's semantics for them: apply creates or
replaces, delete of a missing object is not an error, a namespace's occupancy counts its pods and
claims. ``FakeLedger`` records events in a list and can be told to fail, to inject a ledger that
refuses inserts. ``service`` builds a ``SelfService`` over the test data centre, an in-memory
SQLite store, a fake cluster and a fake ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import pathlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dctenant.clients import kube, selfservice_db
from dctenant.domain import changes
from dctenant.errors import BackendError
from dctenant.ops import selfservice_usecases
from tests.selfservice_quotas import write_quotas

Key = tuple[str, str | None, str]  # kind, namespace, name


class FakeCluster:
    """A cluster as a dict: what was applied is there, what was deleted is not."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.pods: dict[str, int] = {}
        self.fail_on: Callable[[str, Mapping[str, Any]], bool] | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def get(self, what: kube.Kind, *, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            self.calls += 1
            return self.objects.get((what.kind, namespace, name))

    def apply(self, manifest: Mapping[str, Any], *, force_conflicts: bool = False) -> str:
        del force_conflicts
        with self._lock:
            self.calls += 1
            if self.fail_on is not None and self.fail_on("apply", manifest):
                raise BackendError(f"injected failure applying {manifest['kind']}")
            meta = manifest["metadata"]
            key = (str(manifest["kind"]), meta.get("namespace"), str(meta["name"]))
            existed = key in self.objects
            self.objects[key] = dict(manifest)
            return "configured" if existed else "created"

    def delete(self, *, kind_name: str, name: str, namespace: str | None = None) -> None:
        with self._lock:
            self.calls += 1
            self.objects.pop((kind_name, namespace, name), None)

    def occupancy(self, namespace: str) -> changes.Occupancy:
        with self._lock:
            self.calls += 1
            return changes.Occupancy(pods=self.pods.get(namespace, 0), claims=0)

    def close(self) -> None:
        pass

    def named(self, kind: str) -> set[str]:
        return {name for (k, _ns, name) in self.objects if k == kind}


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: str
    actor: str
    subject: Mapping[str, str]
    before: Any
    after: Any
    reason: str
    at: dt.datetime


@dataclass
class FakeLedger:
    """The audit ledger as a list; ``failing`` makes every append raise, as a broken database would."""

    recorded: list[Event] = field(default_factory=list)
    failing: bool = False

    def append(self, *, kind: str, actor: str, subject: Mapping[str, str], before: Any = None, after: Any = None,
               reason: str = "", at: dt.datetime | None = None) -> Event:
        if self.failing:
            raise BackendError("ledger: injected insert failure")
        event = Event(kind=kind, actor=actor, subject=dict(subject), before=before, after=after, reason=reason,
                      at=at or dt.datetime.now(dt.UTC))
        self.recorded.append(event)
        return event

    def kinds(self) -> list[str]:
        return [e.kind for e in self.recorded]

    def close(self) -> None:
        pass


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Fakes:
    service: selfservice_usecases.SelfService
    cluster: FakeCluster
    ledger: FakeLedger
    clock: Clock
    quotas: pathlib.Path

    def token(self, *, tenant: str | None, days: int = 30) -> str:
        return self.service.create_token(selfservice_usecases.LOCAL, tenant=tenant, days=days).secret


def service(tmp: pathlib.Path, *, store_url: str = "sqlite://", clock: Clock | None = None) -> Fakes:
    """A service over a fresh copy of the test data centre, an in-memory store, a fake cluster and ledger."""
    quotas = tmp / "quotas"
    if not quotas.exists():
        write_quotas(quotas)
    cluster, ledger, moved = FakeCluster(), FakeLedger(), clock or Clock()
    built = selfservice_usecases.SelfService(quotas_path=str(quotas), store=selfservice_db.Store(store_url),
                                             ledger=ledger, connect=lambda _context: cluster,  # type: ignore[arg-type,return-value]
                                             clock=moved)
    return Fakes(service=built, cluster=cluster, ledger=ledger, clock=moved, quotas=quotas)


@contextlib.contextmanager
def served(tmp: pathlib.Path, *, clock: Clock | None = None) -> Iterator[tuple[Fakes, str]]:
    """The fakes' service behind uvicorn on 127.0.0.1 (a SQLite file store: uvicorn's threads share it)."""
    from dctenant.api import app
    from tests.integration import selfservice_env

    fakes = service(tmp, store_url=str(tmp / "selfservice.db"), clock=clock)
    try:
        with selfservice_env.serving(app.create_app(fakes.service)) as url:
            yield fakes, url
    finally:
        fakes.service.close()
