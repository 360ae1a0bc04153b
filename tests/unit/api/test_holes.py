"""Regression tests at the HTTP level for the holes an outside test found (issue 17).

uvicorn serves the real application on 127.0.0.1; behind it are an in-memory cluster, a SQLite
store and a list for a ledger (``tests.selfservice_fakes``), so that each test is fast and its
subject is the protocol, not the backends.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dctenant.api import app, problems
from tests import selfservice_fakes

SMALL = {"cpu": "1", "memory": "1Gi"}
DOCS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "selfservice.md"


@pytest.fixture
def served(tmp_path: pathlib.Path) -> Iterator[tuple[selfservice_fakes.Fakes, str]]:
    with selfservice_fakes.served(tmp_path) as started:
        yield started


def http(url: str, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_a_name_with_a_final_newline_is_refused_everywhere(served: Any) -> None:
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        made = client.post("/v1/tenants/bale/namespaces", json={"name": "bale-y\n", "pool": "lab", "quota": SMALL})
        assert problem(made, 422)["title"] == "Invalid namespace name"
        problem(client.get("/v1/tenants/bale/namespaces/bale-y%0A"), 422)
        problem(client.get("/v1/tenants/bale%0A/envelope"), 403)  # not the token's tenant, whatever follows
    assert fakes.cluster.objects == {}
    assert fakes.ledger.kinds() == ["token-created"]


def test_a_json_boolean_is_not_a_quantity(served: Any) -> None:
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        for quota in ({"cpu": True, "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": False},
                      {"cpu": "1", "memory": "1Gi", "storage": {"ssd-standard": True}}, {"cpu": 1.5, "memory": "1Gi"}):
            made = client.post("/v1/tenants/bale/namespaces", json={"name": "bale-b", "pool": "lab", "quota": quota})
            assert problem(made, 422)["title"] == "Invalid request", quota
        asked = client.post("/v1/tenants/bale/requests", json={"pool": "lab", "add": {"cpu": True}, "reason": "r"})
        problem(asked, 422)
        # An integer is still a quantity: the boolean is refused for being a boolean.
        made = client.post("/v1/tenants/bale/namespaces", json={"name": "bale-b", "pool": "lab",
                                                                "quota": {"cpu": 1, "memory": "1Gi"}})
        assert made.status_code == 201 and made.json()["quota"]["cpu"] == "1"


@pytest.mark.parametrize("path", ["/v1/whoami/", "/v1/tenants/bale/namespaces/", "/healthz/"])
def test_a_trailing_slash_is_not_redirected_to_the_host_header(served: Any, path: str) -> None:
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        answer = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert answer.status_code == 404
        assert "location" not in answer.headers
        assert "evil.example" not in answer.text


def test_authentication_comes_before_validation(served: Any) -> None:
    fakes, url = served
    bad = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    with http(url) as anonymous:
        problem(anonymous.post("/v1/tenants/bale/namespaces", **bad), 401)
        problem(anonymous.post("/v1/tokens", json={"scope": 7}), 401)
        problem(anonymous.post("/v1/tenants/bale/namespaces", content=b"[" * 20_000,
                               headers={"content-type": "application/json"}), 401)
    with http(url, fakes.token(tenant="bale")) as tenant:
        assert problem(tenant.post("/v1/tokens", **bad), 403)["title"] == "Forbidden"
        problem(tenant.post("/v1/requests/1/approve", json={"reason": 12}), 403)
        problem(tenant.post("/v1/tenants/gap/namespaces", **bad), 403)
        problem(tenant.post("/v1/tenants/bale/namespaces", **bad), 422)  # its own tenant: now validation
    with http(url, "dct_000000000000_" + "x" * 43) as forged:
        problem(forged.post("/v1/tokens", **bad), 401)


def test_deep_json_is_a_documented_400(served: Any) -> None:
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        deep = client.post("/v1/tenants/bale/namespaces", content=b"[" * 30_000 + b"]" * 30_000,
                           headers={"content-type": "application/json"})
        assert problem(deep, 400)["title"] == "Unreadable body"
        spec = client.get("/openapi.json").json()
    assert 400 in problems.STATUSES
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = {int(s) for s in operation["responses"] if s.isdigit()}
            assert set(problems.STATUSES) <= documented, (method, path)


def test_every_status_is_in_the_documented_table() -> None:
    table = re.findall(r"^\| (\d{3}) \|", DOCS.read_text(encoding="utf-8"), flags=re.M)
    assert sorted(int(s) for s in table) == sorted(problems.STATUSES)
    assert set(app.ERRORS) == set(problems.STATUSES)


def test_a_token_in_the_query_string_is_refused_and_never_logged(tmp_path: pathlib.Path) -> None:
    import logging

    from dctenant.api import serving

    fakes = selfservice_fakes.service(tmp_path, store_url=str(tmp_path / "ss.db"))
    token = fakes.token(tenant="bale")
    secret = token.split("_", 2)[2]
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/v1/whoami?token={token}&access_token={secret}&x=1", "1.1",
                                401), None)
    assert serving.RedactTokens().filter(record)
    message = record.getMessage()
    assert secret not in message and "token=REDACTED" in message and "x=1" in message
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    with selfservice_fakes.served(tmp_path / "second") as (_second, url):
        logger = logging.getLogger("uvicorn.access")  # uvicorn's access logger does not propagate
        collect, redacting, level = Collect(), serving.RedactTokens(), logger.level
        logger.addFilter(redacting)  # what serving.log_config() installs under uvicorn.run
        logger.addHandler(collect)
        logger.setLevel(logging.INFO)
        try:
            with http(url) as client:
                problem(client.get("/v1/whoami", params={"token": token}), 401)
        finally:
            logger.removeFilter(redacting)
            logger.removeHandler(collect)
            logger.setLevel(level)
    assert any("/v1/whoami?token=REDACTED" in line for line in lines), lines
    assert all(secret not in line for line in lines)
    config = serving.log_config()
    assert "redact" in config["loggers"]["uvicorn.access"]["filters"]
    fakes.service.close()


def test_idempotency_over_the_normalised_request_and_the_first_answer(served: Any) -> None:
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        key = {"Idempotency-Key": "k-1"}
        first = client.post("/v1/tenants/bale/namespaces", headers=key,
                            json={"name": "bale-web", "pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}})
        assert first.status_code == 201
        same = {"name": "bale-web", "pool": "lab", "quota": {"cpu": "1000m", "memory": 1073741824}}
        again = client.post("/v1/tenants/bale/namespaces", headers=key, json=same)
        assert again.status_code == 200 and again.json() == first.json()
        # The first answer, not the namespace's current state: resized and deleted since.
        assert client.patch("/v1/tenants/bale/namespaces/bale-web",
                            json={"quota": {"cpu": "2", "memory": "1Gi"}}).status_code == 200
        assert client.delete("/v1/tenants/bale/namespaces/bale-web").status_code == 200
        replay = client.post("/v1/tenants/bale/namespaces", headers=key, json=same)
        assert replay.status_code == 200 and replay.json() == first.json()
        other = client.post("/v1/tenants/bale/namespaces", headers=key,
                            json={"name": "bale-web", "pool": "lab", "quota": {"cpu": "2", "memory": "1Gi"}})
        assert problem(other, 422)["title"] == "Idempotency key reused"
    assert fakes.ledger.kinds().count("namespace-created") == 1


def test_idempotency_keys_expire_after_the_retention(served: Any) -> None:
    fakes, url = served
    retention = selfservice_fakes.selfservice_usecases.IDEMPOTENCY_RETENTION
    assert retention == dt.timedelta(hours=24)  # the figure docs/selfservice.md gives
    start = fakes.clock.now
    body = {"name": "bale-web", "pool": "lab", "quota": SMALL}
    with http(url, fakes.token(tenant="bale", days=5)) as client:
        key = {"Idempotency-Key": "k-2"}
        assert client.post("/v1/tenants/bale/namespaces", headers=key, json=body).status_code == 201
        assert client.delete("/v1/tenants/bale/namespaces/bale-web").status_code == 200
        fakes.clock.now = start + retention - dt.timedelta(microseconds=1)  # the last instant it is kept
        assert client.post("/v1/tenants/bale/namespaces", headers=key, json=body).status_code == 200
        assert fakes.cluster.named("Namespace") == set()
        fakes.clock.now = start + retention  # half-open: expired from here on, a new request
        assert client.post("/v1/tenants/bale/namespaces", headers=key, json=body).status_code == 201
        assert fakes.cluster.named("Namespace") == {"bale-web"}


def test_no_page_loads_script_from_a_cdn(served: Any) -> None:
    """FastAPI's /docs and /redoc would load Swagger UI and ReDoc from cdn.jsdelivr.net: switched off.
    The schema stays, and no answer of the server names a host other than its own."""
    fakes, url = served
    with http(url, fakes.token(tenant="bale")) as client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404, path
        spec = client.get("/openapi.json")
        assert spec.status_code == 200 and spec.json()["info"]["title"] == "dctenant self-service"
        assert "cdn.jsdelivr.net" not in spec.text
