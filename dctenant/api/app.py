"""The self-service API's routes: thin translations from HTTP to ``ops.selfservice_usecases`` and back.

FastAPI because it derives the OpenAPI document from the same typed request models that reject
unknown fields, so the published schema, the validation and the Schemathesis run cannot drift
apart. Handlers are plain (non-async) functions: the use-cases block on the database and the
cluster, and FastAPI runs such handlers in its thread pool. Every error leaves as an RFC 9457
problem document (``problems``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from dctenant import __version__
from dctenant.api import problems
from dctenant.errors import DctenantError
from dctenant.ops import selfservice_decisions, selfservice_usecases

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Amount = Annotated[str | int, Field(description='A quantity as in quotas/: "2", "500m", "4Gi", "10Gbps"')]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bandwidth(Strict):
    egress: Amount | None = None
    ingress: Amount | None = None


class Quota(Strict):
    """A resource map as in ``quotas/``: the loader's reader checks units and storage classes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    cpu: Amount | None = None
    memory: Amount | None = None
    gpu: Amount | None = Field(default=None, alias="nvidia.com/gpu")
    storage: Annotated[dict[str, Amount], Field(max_length=50)] | None = None
    bandwidth: Bandwidth | None = None

    def raw(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class NamespaceCreate(Strict):
    name: Annotated[str, Field(max_length=63, description="DNS-1123 label starting with '<tenant>-'")]
    pool: Annotated[str, Field(max_length=64)]
    quota: Quota


class NamespaceResize(Strict):
    quota: Quota


class IncreaseRequest(Strict):
    pool: Annotated[str, Field(max_length=64)]
    demand: Quota
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class TokenCreate(Strict):
    scope: Literal["tenant", "staff"] = "tenant"
    tenant: Annotated[str, Field(max_length=64)] | None = None
    expires_days: Annotated[int, Field(alias="expiresDays", ge=1, le=selfservice_usecases.MAX_TOKEN_DAYS)] = 90
    note: Annotated[str, Field(max_length=500)] = ""


class Verdict(Strict):
    reason: Annotated[str, Field(max_length=2000)] = ""


Tenant = Annotated[str, Path(max_length=64, pattern=NAME)]
Namespace = Annotated[str, Path(max_length=63, pattern=NAME)]
PROBLEM = {"description": "An RFC 9457 problem document",
           "content": {problems.MEDIA_TYPE: {"schema": {"type": "object"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {status: PROBLEM for status in (401, 403, 404, 409, 413, 422, 502, 503)}


_bearer = HTTPBearer(auto_error=False, description="dct_<id>_<secret>, issued by `dctenant token create`")


def _who(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
         ) -> selfservice_usecases.Identity:
    del credentials  # declared for the OpenAPI document; the raw header is checked by the service
    service: selfservice_usecases.SelfService = request.app.state.service
    return service.authenticate(request.headers.get("authorization"))


Who = Annotated[selfservice_usecases.Identity, Depends(_who)]


def create_app(service: selfservice_usecases.SelfService, *, max_body: int = problems.MAX_BODY) -> Any:
    """The ASGI application for one ``SelfService``, wrapped in the body-size limit."""
    app = FastAPI(title="dctenant self-service", version=__version__, responses=ERRORS,
                  description="Tenants create, resize and delete their own namespaces inside their envelope; "
                              "staff manage tokens and quota-increase requests. Errors are RFC 9457 problems.")
    app.state.service = service

    @app.exception_handler(DctenantError)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        return _problem(problems.from_exception(exc, instance=request.url.path))

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> JSONResponse:
        # Starlette still re-raises the exception after this answer, so that the server logs it.
        return _problem(problems.from_exception(exc, instance=request.url.path))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(problems.document(422, "Invalid request", "the request does not match the API's schema",
                                          instance=request.url.path, errors=problems.validation_errors(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return _problem(problems.document(exc.status_code, title, str(exc.detail), instance=request.url.path))

    @app.get("/healthz", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/whoami", tags=["service"])
    def whoami(me: Who) -> dict[str, Any]:
        return {"token": me.token, "scope": "staff" if me.staff else "tenant", "tenant": me.tenant}

    @app.get("/v1/tenants/{tenant}/envelope", tags=["tenant"])
    def envelope(tenant: Tenant, me: Who) -> dict[str, Any]:
        """The tenant's envelope per pool and resource, what its namespaces hold, and what is free."""
        return service.envelope(me, tenant)

    @app.get("/v1/tenants/{tenant}/usage", tags=["tenant"])
    def usage(tenant: Tenant, me: Who) -> dict[str, Any]:
        """Usage per namespace and resource from Prometheus (503 when the service has no Prometheus)."""
        return service.usage(me, tenant)

    @app.get("/v1/tenants/{tenant}/namespaces", tags=["tenant"])
    def namespaces(tenant: Tenant, me: Who) -> list[dict[str, Any]]:
        return service.namespaces(me, tenant)

    @app.post("/v1/tenants/{tenant}/namespaces", status_code=201, tags=["tenant"])
    def create(tenant: Tenant, body: NamespaceCreate, me: Who,
               key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None) -> JSONResponse:
        """Create a namespace inside the envelope; a retried ``Idempotency-Key`` returns the first result (200)."""
        status, view = service.create(me, tenant, {"name": body.name, "pool": body.pool, "quota": body.quota.raw()},
                                      idempotency_key=key)
        return JSONResponse(view, status_code=status)

    @app.get("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"])
    def namespace(tenant: Tenant, name: Namespace, me: Who) -> dict[str, Any]:
        return service.namespace(me, tenant, name)

    @app.patch("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"])
    def resize(tenant: Tenant, name: Namespace, body: NamespaceResize, me: Who) -> dict[str, Any]:
        """Give a self-service namespace a new quota (it must fit with the tenant's other namespaces)."""
        return service.resize(me, tenant, name, {"quota": body.quota.raw()})

    @app.delete("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"])
    def delete(tenant: Tenant, name: Namespace, me: Who, force: bool = False) -> dict[str, Any]:
        """Delete a self-service namespace; one that holds pods or PVCs needs ``force=true``."""
        return service.delete(me, tenant, name, force=force)

    @app.get("/v1/tenants/{tenant}/requests", tags=["tenant"])
    def tenant_requests(tenant: Tenant, me: Who) -> list[dict[str, Any]]:
        return service.requests(me, tenant=tenant)

    @app.post("/v1/tenants/{tenant}/requests", status_code=201, tags=["tenant"])
    def file_request(tenant: Tenant, body: IncreaseRequest, me: Who) -> dict[str, Any]:
        """Ask staff for a larger demand in one pool (the named resources, as absolute amounts)."""
        return service.file_request(me, tenant, {"pool": body.pool, "demand": body.demand.raw(),
                                                 "reason": body.reason})

    @app.get("/v1/requests", tags=["staff"])
    def all_requests(me: Who, state: Literal["pending", "approved", "rejected"] | None = None
                     ) -> list[dict[str, Any]]:
        return service.requests(me, state=state)

    @app.post("/v1/requests/{request_id}/approve", tags=["staff"])
    def approve(request_id: Annotated[int, Path(ge=1, le=2**62)], body: Verdict, me: Who) -> dict[str, Any]:
        """Approve: the tenant's demand in quotas/ changes, validated like any edit of quotas/."""
        return service.decide_request(me, request_id, approve=True, reason=body.reason)

    @app.post("/v1/requests/{request_id}/reject", tags=["staff"])
    def reject(request_id: Annotated[int, Path(ge=1, le=2**62)], body: Verdict, me: Who) -> dict[str, Any]:
        return service.decide_request(me, request_id, approve=False, reason=body.reason)

    @app.get("/v1/tokens", tags=["staff"])
    def tokens(me: Who, tenant: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
        return service.tokens(me, tenant=tenant)

    @app.post("/v1/tokens", status_code=201, tags=["staff"])
    def create_token(body: TokenCreate, me: Who) -> dict[str, Any]:
        """Issue a token; its secret is in this answer only (the service keeps a salted hash)."""
        if (body.scope == "tenant") != (body.tenant is not None):
            raise selfservice_decisions.RefusedError(422, "Invalid scope",
                                                     "a tenant token names its tenant; a staff token none")
        issued = service.create_token(me, tenant=body.tenant, days=body.expires_days, note=body.note)
        return {**selfservice_usecases.token_view(issued.row, now=service.clock()), "token": issued.secret}

    @app.delete("/v1/tokens/{token_id}", tags=["staff"])
    def revoke(token_id: Annotated[str, Path(max_length=32)], me: Who) -> dict[str, Any]:
        return service.revoke_token(me, token_id)

    return problems.BodyLimit(app, limit=max_body)


def _problem(body: dict[str, Any]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if body["status"] == 401 else None
    return JSONResponse(body, status_code=body["status"], media_type=problems.MEDIA_TYPE, headers=headers)
