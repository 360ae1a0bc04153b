"""The self-service API's routes: thin translations from HTTP to ``ops.selfservice_usecases`` and back.

FastAPI because it derives the OpenAPI document from the same typed request models
(``api.models``) that reject unknown fields, so the published schema, the validation and the
Schemathesis run cannot drift apart. Handlers are plain (non-async) functions: the use-cases block
on the database and the cluster, and FastAPI runs such handlers in its thread pool. Every error
leaves as an RFC 9457 problem document (``problems``). The layers around the routes, outermost
first: ``guard.Guard`` (authentication before anything reads the body), ``problems.BodyLimit``
(413 before the parser), then FastAPI. Trailing slashes are not redirected: a redirect built from
the ``Host`` header would be an open redirect, so ``/v1/whoami/`` is simply 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from dctenant import __version__
from dctenant.api import guard, lockout, models, problems
from dctenant.errors import DctenantError
from dctenant.ops import selfservice_decisions, selfservice_usecases

Tenant = Annotated[str, Path(max_length=64, pattern=models.NAME)]
Namespace = Annotated[str, Path(max_length=63, pattern=models.NAME)]
RequestId = Annotated[int, Path(ge=1, le=2**62)]
PROBLEM = {"description": "An RFC 9457 problem document",
           "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {status: {**PROBLEM, "description": when}
                                           for status, when in problems.STATUSES.items()}
PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "instance": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object"}}}}
# Links for stateful testing (and for readers): the name a create returns is the one to get,
# resize and delete.
_BY_NAME = {"tenant": "$request.path.tenant", "name": "$response.body#/name"}
CREATED = {"description": "Created", "links": {
    "GetCreated": {"operationId": "getNamespace", "parameters": _BY_NAME},
    "ResizeCreated": {"operationId": "resizeNamespace", "parameters": _BY_NAME},
    "DeleteCreated": {"operationId": "deleteNamespace", "parameters": _BY_NAME}}}

_bearer = HTTPBearer(auto_error=False, description="dct_<id>_<secret>, issued by `dctenant token create`")


def _who(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
         ) -> selfservice_usecases.Identity:
    """The identity ``guard.Guard`` established (declared here for the OpenAPI document)."""
    del credentials
    who = getattr(request.state, "identity", None)
    if isinstance(who, selfservice_usecases.Identity):
        return who
    service: selfservice_usecases.SelfService = request.app.state.service
    return service.authenticate(request.headers.get("authorization"))


Who = Annotated[selfservice_usecases.Identity, Depends(_who)]


def _known_query(request: Request) -> None:
    """Refuse query parameters the route does not declare (422), as unknown body fields are.

    A misspelt ``?forse=true`` would otherwise be ignored silently, and the OpenAPI document,
    which lists each route's parameters, would not describe what the API accepts.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = _query_names(dependant)
    unknown = sorted({k for k in request.query_params} - declared)
    if unknown:
        raise selfservice_decisions.RefusedError(422, "Invalid request", "unknown query parameter(s): "
                                                 + ", ".join(repr(k) for k in unknown))


def _query_names(dependant: Any) -> set[str]:
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def create_app(service: selfservice_usecases.SelfService, *, max_body: int = problems.MAX_BODY,
               failures: lockout.Lockout | None = None) -> Any:
    """The ASGI application for one ``SelfService``: the guard, the body-size limit, then FastAPI.

    ``failures`` caps failed authentications per client address, for the API and the portal's login
    alike (``api/lockout.py``; one is made when not given).
    """
    failures = failures or lockout.Lockout()
    # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a public CDN, which an
    # air-gapped data centre cannot reach and which would run third-party script beside a bearer token.
    # The schema itself stays at /openapi.json for any local OpenAPI viewer.
    app = FastAPI(title="dctenant self-service", version=__version__, responses=ERRORS, redirect_slashes=False,
                  docs_url=None, redoc_url=None,
                  dependencies=[Depends(_known_query)],
                  description="Tenants create, resize and delete their own namespaces inside their envelope; "
                              "staff manage tokens and quota-increase requests. Errors are RFC 9457 problems.")
    app.state.service = service
    _handlers(app)
    _service_routes(app)
    _namespace_routes(app, service)
    _request_routes(app, service)
    _token_routes(app, service)
    _document_problems(app)
    _portal(app, service, failures)
    return guard.Guard(problems.BodyLimit(app, limit=max_body), service=service, failures=failures)


def _handlers(app: FastAPI) -> None:
    """Every exception becomes a problem document."""

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
        # FastAPI answers 400 for a body its JSON parser gives up on (say, nested too deeply).
        status = exc.status_code if exc.status_code in problems.STATUSES else 400
        title = problems.HTTP_TITLES.get(status, "HTTP error")
        return _problem(problems.document(status, title, str(exc.detail), instance=request.url.path))


def _service_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/whoami", tags=["service"])
    def whoami(me: Who) -> dict[str, Any]:
        return {"token": me.token, "scope": me.scope, "tenant": me.tenant}


def _namespace_routes(app: FastAPI, service: selfservice_usecases.SelfService) -> None:
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

    @app.post("/v1/tenants/{tenant}/namespaces", status_code=201, tags=["tenant"], operation_id="createNamespace",
              responses={200: {"description": "The first answer to this Idempotency-Key, replayed"}, 201: CREATED})
    def create(tenant: Tenant, body: models.NamespaceCreate, me: Who,
               key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None) -> JSONResponse:
        """Create a namespace inside the envelope; a retried ``Idempotency-Key`` returns the first answer (200)."""
        status, view = service.create(me, tenant, {"name": body.name, "pool": body.pool, "quota": body.quota.raw()},
                                      idempotency_key=key)
        return JSONResponse(view, status_code=status)

    @app.get("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"], operation_id="getNamespace")
    def namespace(tenant: Tenant, name: Namespace, me: Who) -> dict[str, Any]:
        return service.namespace(me, tenant, name)

    @app.patch("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"], operation_id="resizeNamespace")
    def resize(tenant: Tenant, name: Namespace, body: models.NamespaceResize, me: Who) -> dict[str, Any]:
        """Give a self-service namespace a new quota (it must fit with the tenant's other namespaces)."""
        return service.resize(me, tenant, name, {"quota": body.quota.raw()})

    @app.delete("/v1/tenants/{tenant}/namespaces/{name}", tags=["tenant"], operation_id="deleteNamespace")
    def delete(tenant: Tenant, name: Namespace, me: Who, force: bool = False) -> dict[str, Any]:
        """Delete a self-service namespace; one that holds pods or PVCs needs ``force=true``."""
        return service.delete(me, tenant, name, force=force)


def _request_routes(app: FastAPI, service: selfservice_usecases.SelfService) -> None:
    @app.get("/v1/tenants/{tenant}/requests", tags=["tenant"])
    def tenant_requests(tenant: Tenant, me: Who) -> list[dict[str, Any]]:
        return service.requests(me, tenant=tenant)

    @app.post("/v1/tenants/{tenant}/requests", status_code=201, tags=["tenant"])
    def file_request(tenant: Tenant, body: models.IncreaseRequest, me: Who) -> dict[str, Any]:
        """Ask staff for more in one pool: ``add`` amounts to the demand, or set it ``to`` amounts."""
        return service.file_request(me, tenant, body.body())

    @app.get("/v1/requests", tags=["staff"])
    def all_requests(me: Who, state: Literal["pending", "approved", "rejected"] | None = None
                     ) -> list[dict[str, Any]]:
        return service.requests(me, state=state)

    @app.post("/v1/requests/{request_id}/approve", tags=["staff"])
    def approve(request_id: RequestId, body: models.Verdict, me: Who) -> dict[str, Any]:
        """Approve: recorded in the database, validated like an edit of quotas/, in the next plan."""
        return service.decide_request(me, request_id, approve=True, reason=body.reason)

    @app.post("/v1/requests/{request_id}/reject", tags=["staff"])
    def reject(request_id: RequestId, body: models.Verdict, me: Who) -> dict[str, Any]:
        return service.decide_request(me, request_id, approve=False, reason=body.reason)


def _token_routes(app: FastAPI, service: selfservice_usecases.SelfService) -> None:
    @app.get("/v1/tokens", tags=["staff"])
    def tokens(me: Who, tenant: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
        return service.tokens(me, tenant=tenant)

    @app.post("/v1/tokens", status_code=201, tags=["staff"])
    def create_token(body: models.TokenCreate, me: Who) -> dict[str, Any]:
        """Issue a token; its secret is in this answer only (the service keeps a salted hash)."""
        if (body.scope == "tenant") != (body.tenant is not None):
            raise selfservice_decisions.RefusedError(422, "Invalid scope",
                                                     "a tenant token names its tenant; a staff token none")
        issued = service.create_token(me, tenant=body.tenant, days=body.expires_days, note=body.note,
                                      auditor=body.scope == "auditor")
        return {**selfservice_usecases.token_view(issued.row, now=service.clock()), "token": issued.secret}

    @app.delete("/v1/tokens/{token_id}", tags=["staff"])
    def revoke(token_id: Annotated[str, Path(max_length=32)], me: Who) -> dict[str, Any]:
        return service.revoke_token(me, token_id)


def _portal(app: FastAPI, service: selfservice_usecases.SelfService, failures: lockout.Lockout) -> None:
    """The web portal at ``/portal`` (its own session cookie; the guard covers ``/v1/`` only)."""
    from fastapi.responses import RedirectResponse

    from dctenant.api.portal import site

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{site.PREFIX}/", status_code=303)

    app.mount(site.PREFIX, site.create(service, failures=failures))


def _document_problems(app: FastAPI) -> None:
    """Add the problem document's schema to the OpenAPI document the routes refer to."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem(body: dict[str, Any]) -> JSONResponse:
    headers = dict((k.decode(), v.decode()) for k, v in problems.challenge(body["status"]))
    return JSONResponse(body, status_code=body["status"], media_type=problems.MEDIA_TYPE, headers=headers or None)
