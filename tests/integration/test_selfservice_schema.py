"""Schemathesis against the API's own OpenAPI document: no generated request may get a 5xx.

The application is called in process through ASGI (the same app uvicorn serves), with a staff
token so that every operation gets past authentication and exercises validation and the use-cases.
Every error answer must be an RFC 9457 problem document.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import initialize, run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import StepInput
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import selfservice_fakes
from tests.integration import selfservice_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[selfservice_env.Env]:
    with selfservice_env.environment(tmp_path_factory.mktemp("schema"), http=False) as started:
        started.service.measure = selfservice_env.no_usage  # without Prometheus, usage is 503 by design
        yield started


@pytest.fixture(scope="module")
def staff(env: selfservice_env.Env) -> str:
    return env.token(tenant=None)


@pytest.fixture(scope="module")
def api_schema(env: selfservice_env.Env) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", env.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, staff: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {staff}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code


def test_the_openapi_document_describes_bearer_auth_and_problems(api_schema: Any) -> None:
    raw = api_schema.raw_schema
    assert raw["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = raw["paths"]["/v1/tenants/{tenant}/namespaces"]["post"]
    assert "application/problem+json" in post["responses"]["409"]["content"]


# Stateful: sequences of operations joined by the OpenAPI links (create → get, resize, delete).

@pytest.fixture(scope="module")
def stateful_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from dctenant.api import app, lockout

    tmp = tmp_path_factory.mktemp("stateful")
    fakes = selfservice_fakes.service(tmp, store_url=str(tmp / "ss.db"))
    fakes.service.measure = selfservice_env.no_usage
    try:
        # Schemathesis sends hundreds of requests with bad credentials from one address and expects 401
        # for each: the per-address cap (tests/unit/api/test_lockout.py) would answer 429 after 60.
        unlimited = lockout.Lockout(limit=10**9)
        yield app.create_app(fakes.service, failures=unlimited), fakes.token(tenant=None, days=3650)
    finally:
        fakes.service.close()


def test_stateful_sequences_never_fail_and_always_conform(stateful_app: tuple[Any, str]) -> None:
    asgi, staff = stateful_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", asgi)
    calls: dict[str, int] = {}

    @schema.auth()
    class Staff:
        """Schemathesis's own authentication hook: it knows the header is credentials, not data."""

        def get(self, case: Any, context: Any) -> str:
            return staff

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    machine = schema.as_state_machine()
    create = schema["/v1/tenants/{tenant}/namespaces"]["POST"]
    created = machine.bundles["POST /v1/tenants/{tenant}/namespaces -> 201"]
    seeded = itertools.count()

    class Sequences(machine):  # type: ignore[misc,valid-type]
        # Schemathesis does not start sequences at a create whose tenant it cannot produce, and a
        # random name lacks the tenant's prefix: each sequence starts with one namespace created
        # in the tenant's envelope, from which the links lead to get, resize and delete.
        @initialize(target=created)
        def seed(self) -> Any:
            case = create.Case(path_parameters={"tenant": "bale"}, media_type="application/json",
                               body={"name": f"bale-s{next(seeded)}", "pool": "lab",
                                     "quota": {"cpu": "10m", "memory": "1Mi"}},
                               headers={"Authorization": f"Bearer {staff}"})
            self.recorder.record_case(case=case)  # later steps look their parent up in the recorder
            output = self.step(StepInput.initial(case))  # called and checked like any step
            assert output.response.status_code == 201, output.response.text
            return output

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            # Every built-in check but "schema-valid data is accepted": the tenant prefix of a name,
            # a quantity's units and the envelope are rules JSON Schema cannot state, and their
            # refusals are the documented 422 and 409.
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=[positive_data_acceptance], transport_kwargs=kwargs or None)

        def after_call(self, response: Any, case: Any) -> None:
            key = f"{case.method} {case.operation.path} {response.status_code}"
            calls[key] = calls.get(key, 0) + 1
            assert response.status_code < 500, (case.method, case.path, response.text[:500])

    run_state_machine_as_test(Sequences, settings=settings(max_examples=40, stateful_step_count=8, deadline=None,
                                                           derandomize=True, suppress_health_check=list(HealthCheck)))
    print(f"\nstateful: {sum(calls.values())} calls, by status: "
          + ", ".join(f"{s}×{n}" for s, n in sorted(_by_status(calls).items())))
    # The links were followed: a namespace created in a sequence was fetched, resized or deleted.
    assert any(k.startswith(("GET /v1/tenants/{tenant}/namespaces/{name} 200",
                             "PATCH /v1/tenants/{tenant}/namespaces/{name} 200",
                             "DELETE /v1/tenants/{tenant}/namespaces/{name} 200")) for k in calls), calls
    assert not any(k.endswith((" 500", " 502", " 503")) for k in calls)


def _by_status(calls: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in calls.items():
        status = key.rsplit(" ", 1)[1]
        out[status] = out.get(status, 0) + n
    return out
