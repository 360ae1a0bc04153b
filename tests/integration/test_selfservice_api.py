"""The self-service API over real HTTP (uvicorn on 127.0.0.1), a kmock cluster, SQLite and PostgreSQL.

What kmock does not emulate (see test_kube_apply.py) applies here too: the namespace objects are
created by the apply-then-POST fallback, and deleting a namespace does not cascade (the service
deletes each object itself, which is also correct on a real server).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import pathlib
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dctenant.api import serving
from dctenant.cli.main import main
from dctenant.domain import audit_events, quantities, usage
from dctenant.errors import UserError
from dctenant.ops import applying
from tests.integration import postgres_server, selfservice_env

pytestmark = pytest.mark.integration

SMALL = {"cpu": "1", "memory": "1Gi"}


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server.running() as url:
        yield url


def fresh_database(server: str) -> str:
    name = "t" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


class Clock:
    """The service's clock, which a test can move (to expire a token)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


def fake_measure(names: Any, at: dt.datetime) -> usage.Usage:
    return usage.Usage(at=at, amounts={n: {"cpu": Decimal("0.5")} for n in names}, seen=frozenset(names))


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[selfservice_env.Env]:
    database = fresh_database(request.getfixturevalue("postgres")) if request.param == "postgresql" else None
    with selfservice_env.environment(tmp_path, database=database, clock=Clock()) as started:
        yield started


@pytest.fixture
def lite(tmp_path: pathlib.Path) -> Iterator[selfservice_env.Env]:
    """SQLite only: for the tests whose subject is not the database."""
    with selfservice_env.environment(tmp_path, clock=Clock()) as started:
        started.service.measure = fake_measure
        yield started


def client(env: selfservice_env.Env, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=env.url, headers=headers, timeout=60)


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://dctenant.io/problems/")
    assert body["title"]
    assert body["detail"]
    return body


def cluster_cpu(env: selfservice_env.Env) -> Decimal:
    quotas = env.cluster.objects("ResourceQuota")
    return sum((quantities.Quantity.parse(q["spec"]["hard"]["requests.cpu"]) for q in quotas.values()), Decimal(0))


def test_create_resize_delete_and_the_audit_trail(env: selfservice_env.Env) -> None:
    token = env.token(tenant="bale")
    with client(env, token) as http:
        created = http.post("/v1/tenants/bale/namespaces", json={"name": "bale-web", "pool": "lab", "quota": SMALL})
        assert created.status_code == 201, created.text
        assert created.json()["quota"] == {"cpu": "1", "memory": str(2**30)}
        ns = env.cluster.objects("Namespace")[(None, "bale-web")]
        assert ns["metadata"]["labels"]["dctenant.io/provisioned-by"] == "self-service"
        assert set(env.cluster.objects("ResourceQuota")) == {("bale-web", "dctenant-quota")}
        resized = http.patch("/v1/tenants/bale/namespaces/bale-web", json={"quota": {"cpu": "4", "memory": "2Gi"}})
        assert resized.status_code == 200, resized.text
        assert env.cluster.objects("ResourceQuota")[("bale-web", "dctenant-quota")]["spec"]["hard"][
            "requests.cpu"] == "4"
        envelope = http.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]
        assert envelope == {"envelope": "12", "staff": "2", "selfService": "4", "free": "6"}
        listed = http.get("/v1/tenants/bale/namespaces").json()
        assert [(n["name"], n["provisionedBy"]) for n in listed] == [("bale-core", "staff"),
                                                                    ("bale-web", "self-service")]
        assert http.delete("/v1/tenants/bale/namespaces/bale-web").status_code == 200
        assert env.cluster.objects("Namespace") == {}
        assert http.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]["free"] == "10"
    kinds = [(e.kind, e.actor) for e in env.ledger.events(tenant="bale") if e.kind != "token-created"]
    actor = kinds[-1][1]
    assert actor.startswith("token:") and actor.endswith("(tenant bale)")
    intended = "change-intended"  # each change's intent precedes it in the ledger
    assert [k for k, _ in kinds] == [intended, audit_events.NAMESPACE_CREATED, intended, audit_events.QUOTA_CHANGED,
                                     intended, audit_events.NAMESPACE_DELETED]


def test_fifty_concurrent_creates_for_an_envelope_of_ten(env: selfservice_env.Env) -> None:
    token = env.token(tenant="bale")
    start = threading.Barrier(50)

    def create(i: int) -> httpx.Response:
        with client(env, token) as http:
            start.wait()
            return http.post("/v1/tenants/bale/namespaces", json={"name": f"bale-n{i}", "pool": "lab",
                                                                   "quota": SMALL})

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(create, range(50)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 10 + [409] * 40
    for answer in answers:
        if answer.status_code == 409:
            assert is_problem(answer, 409)["title"] == "Envelope exceeded"
    assert len(env.cluster.objects("Namespace")) == 10
    assert cluster_cpu(env) == 10
    created = [e for e in env.ledger.events(kinds=[audit_events.NAMESPACE_CREATED], tenant="bale")]
    assert len(created) == 10
    assert sum(Decimal(e.after["cpu"]) for e in created) == 10


def test_an_idempotency_key_never_creates_twice(lite: selfservice_env.Env) -> None:
    with client(lite, lite.token(tenant="bale")) as http:
        body = {"name": "bale-web", "pool": "lab", "quota": SMALL}
        first = http.post("/v1/tenants/bale/namespaces", json=body, headers={"Idempotency-Key": "k-1"})
        again = http.post("/v1/tenants/bale/namespaces", json=body, headers={"Idempotency-Key": "k-1"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
        other = http.post("/v1/tenants/bale/namespaces", json={**body, "name": "bale-x"},
                          headers={"Idempotency-Key": "k-1"})
        assert is_problem(other, 422)["title"] == "Idempotency key reused"
    assert len(list(lite.ledger.events(kinds=[audit_events.NAMESPACE_CREATED]))) == 1


def test_a_failed_apply_releases_the_reservation(lite: selfservice_env.Env) -> None:
    lite.cluster.fail(lambda r: "limitranges" in r.url.path, times=1)
    with client(lite, lite.token(tenant="bale")) as http:
        body = {"name": "bale-web", "pool": "lab", "quota": {"cpu": "10", "memory": "1Gi"}}
        failed = http.post("/v1/tenants/bale/namespaces", json=body, headers={"Idempotency-Key": "k"})
        assert "injected failure" in is_problem(failed, 502)["detail"]
        assert lite.cluster.objects("Namespace") == {}
        assert lite.cluster.objects("ResourceQuota") == {}
        assert http.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]["free"] == "10"
        retried = http.post("/v1/tenants/bale/namespaces", json=body, headers={"Idempotency-Key": "k"})
        assert retried.status_code == 201, retried.text


def test_deleting_a_namespace_with_pods_needs_force_and_is_recorded(lite: selfservice_env.Env) -> None:
    with client(lite, lite.token(tenant="bale")) as http:
        http.post("/v1/tenants/bale/namespaces", json={"name": "bale-web", "pool": "lab", "quota": SMALL})
        lite.cluster.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "bale-web"}})
        refused = http.delete("/v1/tenants/bale/namespaces/bale-web")
        assert "holds 1 pod and 0 PVCs" in is_problem(refused, 409)["detail"]
        assert (None, "bale-web") in lite.cluster.objects("Namespace")
        forced = http.delete("/v1/tenants/bale/namespaces/bale-web", params={"force": "true"})
        assert forced.status_code == 200 and forced.json()["forced"] is True
    (deleted,) = lite.ledger.events(kinds=[audit_events.NAMESPACE_DELETED])
    assert "force=true" in deleted.reason and "1 pod" in deleted.reason


def test_apply_neither_prunes_nor_overwrites_self_service_namespaces(lite: selfservice_env.Env) -> None:
    with client(lite, lite.token(tenant="bale")) as http:
        assert http.post("/v1/tenants/bale/namespaces",
                         json={"name": "bale-web", "pool": "lab", "quota": SMALL}).status_code == 201
    kubeconfig = str(lite.quotas.parent / "kubeconfig")
    targets = applying.targets(str(lite.quotas), at=dt.date.today())
    result = applying.apply(targets, kubeconfig=kubeconfig, prune_namespaces=True)
    assert result.ok
    namespaces = lite.cluster.objects("Namespace")
    assert {(None, "bale-web"), (None, "bale-core"), (None, "gap-core")} <= set(namespaces)
    assert lite.cluster.objects("ResourceQuota")[("bale-web", "dctenant-quota")]["spec"]["hard"]["requests.cpu"] == "1"


def test_an_approved_increase_is_data_until_exported(lite: selfservice_env.Env) -> None:
    tenant, staff = lite.token(tenant="bale"), lite.token(tenant=None)
    before = (lite.quotas / "tenants" / "bale.yaml").read_text()
    with client(lite, tenant) as http, client(lite, staff) as admin:
        filed = http.post("/v1/tenants/bale/requests", json={"pool": "lab", "add": {"cpu": "8"}, "reason": "launch"})
        assert filed.status_code == 201 and filed.json()["state"] == "pending"
        assert [r["id"] for r in admin.get("/v1/requests", params={"state": "pending"}).json()] == [filed.json()["id"]]
        approved = admin.post(f"/v1/requests/{filed.json()['id']}/approve", json={"reason": "ok"})
        assert (approved.json()["state"], approved.json()["result"]) == ("approved", {"cpu": "20"})
        assert http.get("/v1/tenants/bale/envelope").json()["pools"]["lab"]["cpu"]["envelope"] == "20"
        assert (lite.quotas / "tenants" / "bale.yaml").read_text() == before
        # Not an increase: refused when filed, before staff see it.
        low = http.post("/v1/tenants/bale/requests", json={"pool": "lab", "to": {"cpu": "1"}, "reason": "x"})
        assert is_problem(low, 422)["title"] == "Not an increase"
        both = http.post("/v1/tenants/bale/requests", json={"pool": "lab", "add": {"cpu": "1"}, "to": {"cpu": "30"},
                                                            "reason": "x"})
        is_problem(both, 422)
        assert is_problem(admin.post(f"/v1/requests/{filed.json()['id']}/reject", json={}), 409)["title"] == \
            "Already decided"
    assert [e.kind for e in lite.ledger.events(kinds=["quota-increase-approved"])] == ["quota-increase-approved"]


# The authorisation matrix: every endpoint × every kind of caller.

WHO = ("none", "expired", "revoked", "other", "own", "staff")
Prepare = Callable[[selfservice_env.Env], tuple[str, str, Any]]


def _namespace(env: selfservice_env.Env) -> str:
    name = f"bale-{uuid.uuid4().hex[:8]}"
    env.service.create(selfservice_env.selfservice_usecases.LOCAL, "bale", {"name": name, "pool": "lab",
                                                                   "quota": {"cpu": "100m", "memory": "1Mi"}})
    return name


def _request(env: selfservice_env.Env) -> int:
    view = env.service.file_request(selfservice_env.selfservice_usecases.LOCAL, "bale",
                                    {"pool": "lab", "mode": "to", "amounts": {"cpu": "13"}, "reason": "r"})
    return int(view["id"])


ENDPOINTS: dict[str, tuple[bool, Prepare]] = {  # name: (staff only, prepare → method, path, body)
    "envelope": (False, lambda e: ("GET", "/v1/tenants/bale/envelope", None)),
    "usage": (False, lambda e: ("GET", "/v1/tenants/bale/usage", None)),
    "list": (False, lambda e: ("GET", "/v1/tenants/bale/namespaces", None)),
    "create": (False, lambda e: ("POST", "/v1/tenants/bale/namespaces", {
        "name": f"bale-{uuid.uuid4().hex[:8]}", "pool": "lab", "quota": {"cpu": "100m", "memory": "1Mi"}})),
    "get": (False, lambda e: ("GET", f"/v1/tenants/bale/namespaces/{_namespace(e)}", None)),
    "resize": (False, lambda e: ("PATCH", f"/v1/tenants/bale/namespaces/{_namespace(e)}",
                                 {"quota": {"cpu": "200m", "memory": "1Mi"}})),
    "delete": (False, lambda e: ("DELETE", f"/v1/tenants/bale/namespaces/{_namespace(e)}", None)),
    "requests": (False, lambda e: ("GET", "/v1/tenants/bale/requests", None)),
    "file": (False, lambda e: ("POST", "/v1/tenants/bale/requests", {"pool": "lab", "add": {"cpu": "1"},
                                                                     "reason": "r"})),
    "all-requests": (True, lambda e: ("GET", "/v1/requests", None)),
    "approve": (True, lambda e: ("POST", f"/v1/requests/{_request(e)}/approve", {})),
    "reject": (True, lambda e: ("POST", f"/v1/requests/{_request(e)}/reject", {})),
    "tokens": (True, lambda e: ("GET", "/v1/tokens", None)),
    "issue": (True, lambda e: ("POST", "/v1/tokens", {"scope": "tenant", "tenant": "bale", "expiresDays": 1})),
    "revoke": (True, lambda e: ("DELETE", f"/v1/tokens/{e.token(tenant='gap').split('_')[1]}", None)),
}


@pytest.fixture
def callers(lite: selfservice_env.Env) -> dict[str, str | None]:
    clock = lite.service.clock
    assert isinstance(clock, Clock)
    clock.offset = -dt.timedelta(days=2)
    expired = lite.token(tenant="bale", days=1)
    clock.offset = dt.timedelta()
    revoked = lite.token(tenant="bale")
    lite.service.revoke_token(selfservice_env.selfservice_usecases.LOCAL, revoked.split("_")[1])
    return {"none": None, "expired": expired, "revoked": revoked, "other": lite.token(tenant="gap"),
            "own": lite.token(tenant="bale"), "staff": lite.token(tenant=None)}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_authorisation_matrix(lite: selfservice_env.Env, callers: dict[str, str | None], endpoint: str) -> None:
    staff_only, prepare = ENDPOINTS[endpoint]
    found = {}
    for who in WHO:
        method, path, body = prepare(lite)
        with client(lite, callers[who]) as http:
            found[who] = http.request(method, path, json=body)
    expected = {"none": 401, "expired": 401, "revoked": 401, "other": 403,
                "own": 403 if staff_only else None, "staff": None}
    for who, status in expected.items():
        answer = found[who]
        if status is None:
            assert 200 <= answer.status_code < 300, (who, answer.text)
        else:
            is_problem(answer, status)
            if status == 401:
                assert answer.headers["www-authenticate"] == "Bearer"
    assert "expired" in found["expired"].json()["detail"]
    assert "revoked" in found["revoked"].json()["detail"]


# Bad input: always a 4xx problem document, never a 500.

@pytest.mark.parametrize(("method", "path", "body", "status", "title"), [
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "lab", "quota": SMALL, "extra": 1}, 422,
     "Invalid request"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "lab", "quota": {**SMALL, "disk": "1"}}, 422,
     "Invalid request"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "lab", "quota": {"cpu": "1 core",
                                                                                         "memory": "1Gi"}}, 422,
     "Invalid quantities"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "lab", "quota": {"cpu": "9e99999",
                                                                                         "memory": "1Gi"}}, 422,
     "Invalid quantities"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "mars", "quota": SMALL}, 422, "Unknown pool"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "a", "pool": "lab", "quota": SMALL}, 422,
     "Invalid namespace name"),
    ("POST", "/v1/tenants/bale/namespaces", {"name": "bale-a", "pool": "lab", "quota": {"cpu": "11",
                                                                                         "memory": "1Gi"}}, 409,
     "Envelope exceeded"),
    ("POST", "/v1/tenants/nobody/namespaces", {"name": "nobody-a", "pool": "lab", "quota": SMALL}, 404,
     "Unknown tenant"),
    ("PATCH", "/v1/tenants/bale/namespaces/bale-core", {"quota": SMALL}, 404, "Unknown namespace"),
    ("DELETE", "/v1/tenants/bale/namespaces/bale-core", None, 404, "Unknown namespace"),
    ("POST", "/v1/tenants/bale/requests", {"pool": "lab", "add": {"cpu": "lots"}, "reason": "r"}, 422,
     "Invalid quantities"),
    ("POST", "/v1/tokens", {"scope": "tenant", "expiresDays": 0}, 422, "Invalid request"),
    ("POST", "/v1/tokens", {"scope": "tenant"}, 422, "Invalid scope"),
    ("GET", "/v1/nowhere", None, 404, "Not found"),
    ("PUT", "/v1/tenants/bale/envelope", None, 405, "Method not allowed"),
    ("POST", "/v1/requests/99/approve", {}, 404, "Unknown request"),
])
def test_bad_input_is_a_problem_document(lite: selfservice_env.Env, method: str, path: str, body: Any, status: int,
                                         title: str) -> None:
    with client(lite, lite.token(tenant=None)) as http:
        assert is_problem(http.request(method, path, json=body), status)["title"] == title


def test_oversized_malformed_and_chunked_bodies(lite: selfservice_env.Env) -> None:
    with client(lite, lite.token(tenant="bale")) as http:
        big = {"name": "bale-a", "pool": "lab", "quota": SMALL, "pad": "x" * 70_000}
        is_problem(http.post("/v1/tenants/bale/namespaces", json=big), 413)
        chunks = iter([b"{" + b" " * 40_000, b" " * 40_000 + b"}"])
        is_problem(http.post("/v1/tenants/bale/namespaces", content=chunks,
                             headers={"content-type": "application/json"}), 413)
        is_problem(http.post("/v1/tenants/bale/namespaces", content=b"{not json",
                             headers={"content-type": "application/json"}), 422)
        is_problem(http.post("/v1/tenants/bale/namespaces", content=b"name=x",
                             headers={"content-type": "application/x-www-form-urlencoded"}), 422)


def test_usage_comes_from_the_measure_and_is_503_without_prometheus(lite: selfservice_env.Env) -> None:
    with client(lite, lite.token(tenant="bale")) as http:
        answer = http.get("/v1/tenants/bale/usage").json()
        assert answer["namespaces"]["bale-core"]["used"]["cpu"] == "0.5"
        lite.service.measure = None
        is_problem(http.get("/v1/tenants/bale/usage"), 503)


def test_the_cli_talks_to_the_service(lite: selfservice_env.Env, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main(list(args))
        out, err = capsys.readouterr()
        return int(ended.value.code or 0), out, err

    database = str(lite.quotas.parent / "state" / "ledger.db")
    code, out, _ = run("token", "create", str(lite.quotas), "--tenant", "bale", "--expires", "7d",
                       "--ledger", database, "-o", "json")
    assert code == 0
    import json

    token = json.loads(out)["token"]
    remote = ("--server", lite.url, "--token", token)
    code, out, err = run("ns", "create", "bale-cli", "--pool", "lab", "--cpu", "1", "--memory", "1Gi", *remote,
                         "-o", "json")
    assert code == 0, err
    assert json.loads(out)["name"] == "bale-cli"
    code, out, _ = run("ns", "list", *remote, "-o", "json")
    assert [n["name"] for n in json.loads(out)["namespaces"]] == ["bale-cli", "bale-core"]
    code, _, err = run("ns", "create", "bale-big", "--pool", "lab", "--cpu", "50", "--memory", "1Gi", *remote)
    assert code == 1 and "409 Envelope exceeded" in err and token not in err
    code, out, _ = run("request", "increase", "--pool", "lab", "--to", "cpu=20", "--reason", "growth", *remote,
                       "-o", "json")
    assert code == 0 and json.loads(out)["state"] == "pending"
    code, _, _ = run("ns", "delete", "bale-cli", *remote)
    assert code == 0


def test_serve_refuses_a_public_address_without_tls(tmp_path: pathlib.Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["serve", str(tmp_path), "--listen", "0.0.0.0:8080"])
    assert ended.value.code == 1
    assert "refusing to serve bearer tokens in plain HTTP on 0.0.0.0" in capsys.readouterr().err
    for host in ("127.0.0.1", "::1", "localhost"):
        serving.check_listen(host, tls_cert=None, tls_key=None, insecure=False)
    serving.check_listen("10.0.0.1", tls_cert=None, tls_key=None, insecure=True)
    serving.check_listen("10.0.0.1", tls_cert="c.pem", tls_key="k.pem", insecure=False)
    with pytest.raises(UserError):
        serving.check_listen("10.0.0.1", tls_cert="c.pem", tls_key=None, insecure=False)
    with pytest.raises(UserError):
        serving.split_listen("nowhere")
