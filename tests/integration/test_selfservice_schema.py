"""Schemathesis against the API's own OpenAPI document: no generated request may get a 5xx.

The application is called in process through ASGI (the same app uvicorn serves), with a staff
token so that every operation gets past authentication and exercises validation and the use-cases.
Every error answer must be an RFC 9457 problem document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

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
