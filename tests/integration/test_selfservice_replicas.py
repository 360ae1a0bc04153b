"""Two replicas of the self-service API on one real PostgreSQL: decisions, races and restarts.

Each replica has its own uvicorn on 127.0.0.1, its own connection pools and its own checkout of
quotas/ (as two pods would); they share the database and one in-memory cluster
(``tests.selfservice_fakes.FakeCluster``), because the subject here is the database, not the
Kubernetes client.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import pathlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from dctenant.api import app as api_app
from dctenant.clients import ledger_db, selfservice_db
from dctenant.ops import selfservice_usecases
from tests import selfservice_fakes
from tests.integration import postgres_server, selfservice_env
from tests.integration.test_selfservice_api import fresh_database
from tests.selfservice_quotas import write_quotas

pytestmark = pytest.mark.integration

LOCAL = selfservice_usecases.LOCAL
SMALL = {"cpu": "1", "memory": "1Gi"}


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server.running() as url:
        yield url


@dataclass
class Replica:
    service: selfservice_usecases.SelfService
    ledger: ledger_db.Ledger
    quotas: pathlib.Path
    url: str


@contextlib.contextmanager
def replica(root: pathlib.Path, database: str, cluster: selfservice_fakes.FakeCluster) -> Iterator[Replica]:
    quotas = root / "quotas" if (root / "quotas").exists() else write_quotas(root / "quotas")
    ledger = ledger_db.open_ledger(database)
    service = selfservice_usecases.SelfService(quotas_path=str(quotas), store=selfservice_db.Store(database),
                                               ledger=ledger, connect=lambda _c: cluster)  # type: ignore[arg-type,return-value]
    try:
        with selfservice_env.serving(api_app.create_app(service)) as url:
            yield Replica(service=service, ledger=ledger, quotas=quotas, url=url)
    finally:
        service.close()
        ledger.close()


@pytest.fixture
def two(tmp_path: pathlib.Path, postgres: str) -> Iterator[tuple[Replica, Replica, selfservice_fakes.FakeCluster]]:
    database = fresh_database(postgres)
    cluster = selfservice_fakes.FakeCluster()
    with replica(tmp_path / "a", database, cluster) as a, replica(tmp_path / "b", database, cluster) as b:
        yield a, b, cluster


def client(r: Replica, token: str) -> httpx.Client:
    return httpx.Client(base_url=r.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def race(*calls: object) -> list[httpx.Response]:
    start = threading.Barrier(len(calls))

    def run(call: object) -> httpx.Response:
        start.wait()
        return call()  # type: ignore[operator, no-any-return]

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_approve_and_reject_racing_on_two_replicas(two: tuple[Replica, Replica, object]) -> None:
    a, b, _ = two
    staff = a.service.create_token(LOCAL, tenant=None, days=1).secret
    files = {r.url: (r.quotas / "tenants" / "bale.yaml").read_bytes() for r in (a, b)}
    ids = [a.service.file_request(LOCAL, "bale", {"pool": "lab", "mode": "add", "amounts": {"cpu": "1"},
                                                  "reason": f"r{i}"})["id"] for i in range(12)]
    winners = {}
    with client(a, staff) as on_a, client(b, staff) as on_b:
        for rid in ids:
            approve, reject = race(lambda rid=rid: on_a.post(f"/v1/requests/{rid}/approve", json={}),
                                   lambda rid=rid: on_b.post(f"/v1/requests/{rid}/reject", json={}))
            statuses = sorted((approve.status_code, reject.status_code))
            assert statuses == [200, 409], (approve.text, reject.text)
            winners[rid] = "approved" if approve.status_code == 200 else "rejected"
            loser = reject if approve.status_code == 200 else approve
            assert loser.json()["title"] == "Already decided"
        approved = sum(1 for w in winners.values() if w == "approved")
        for http in (on_a, on_b):  # both replicas see every decision, and the same envelope
            states = {r["id"]: r["state"] for r in http.get("/v1/requests").json()}
            assert states == winners
            assert http.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]["envelope"] == str(12 + approved)
    for r in (a, b):
        assert (r.quotas / "tenants" / "bale.yaml").read_bytes() == files[r.url]  # untouched until export
    decisions = list(a.ledger.events(kinds=["quota-increase-approved", "quota-increase-rejected"]))
    assert sorted(int(e.subject["request"]) for e in decisions) == sorted(ids)  # one event per request
    assert a.ledger.verify().intact


def test_create_and_delete_racing_on_two_replicas(two: tuple[Replica, Replica, selfservice_fakes.FakeCluster]
                                                  ) -> None:
    a, b, cluster = two
    token = a.service.create_token(LOCAL, tenant="bale", days=1).secret
    outcomes = []
    with client(a, token) as on_a, client(b, token) as on_b:
        for i in range(10):
            name = f"bale-r{i}"
            made, gone = race(
                lambda name=name: on_a.post("/v1/tenants/bale/namespaces", json={"name": name, "pool": "lab",
                                                                                  "quota": SMALL}),
                lambda name=name: on_b.delete(f"/v1/tenants/bale/namespaces/{name}"))
            assert made.status_code == 201, made.text
            assert gone.status_code in (200, 404, 409), gone.text
            outcomes.append(gone.status_code)
            listed = {n["name"]: n["state"] for n in on_b.get("/v1/tenants/bale/namespaces").json()}
            in_cluster = name in cluster.named("Namespace")
            # The store and the cluster agree, whichever won.
            assert in_cluster == (gone.status_code != 200) == (listed.get(name) == "active")
        free = on_a.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]["free"]
    assert int(free) == 10 - sum(1 for s in outcomes if s != 200)


def test_an_idempotent_create_replays_after_a_restart(tmp_path: pathlib.Path, postgres: str) -> None:
    database = fresh_database(postgres)
    cluster = selfservice_fakes.FakeCluster()
    body = {"name": "bale-web", "pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}}
    with replica(tmp_path / "a", database, cluster) as a:
        token = a.service.create_token(LOCAL, tenant="bale", days=1).secret
        with client(a, token) as http:
            first = http.post("/v1/tenants/bale/namespaces", json=body, headers={"Idempotency-Key": "once"})
            assert first.status_code == 201
    with replica(tmp_path / "c", database, cluster) as c, client(c, token) as http:
        again = http.post("/v1/tenants/bale/namespaces", headers={"Idempotency-Key": "once"},
                          json={**body, "quota": {"cpu": "1000m", "memory": str(2**30)}})
        assert again.status_code == 200 and again.json() == first.json()
        assert len(list(c.ledger.events(kinds=["namespace-created"]))) == 1
    assert cluster.named("Namespace") == {"bale-web"}
