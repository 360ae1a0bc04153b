"""The portal's routes: each reads the session, checks CSRF on POST, calls a use-case and renders a template.

A Starlette application mounted at ``/portal`` by ``api.app.create_app``. Handlers are plain
functions run in the thread pool (the use-cases block on the database and the cluster), wrapped
by ``_page``, which is the single place that decides: no session → the login page; a POST
without the session's CSRF token or from another origin → 403; a refusal of the use-cases → its
status and words on an error page. ``securing.SecurityHeaders`` adds the CSP and the other
headers to every response. Every write goes through ``SelfService`` with the session's identity,
so the API's rules (tenant scope, staff only, auditor read-only) hold here unchanged.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dctenant.api import lockout
from dctenant.api.portal import i18n, pages, securing, sessions
from dctenant.clients import portal_db
from dctenant.errors import DctenantError, UserError
from dctenant.ops import selfservice_decisions, selfservice_usecases

PREFIX = "/portal"
STATIC = {"portal.css": "text/css; charset=utf-8"}
DONE = ("created", "resized", "deleted", "requested", "approved", "rejected", "saved")
MAX_FIELD = 4000


@dataclass(frozen=True, kw_only=True)
class Ctx:
    """One request as a handler sees it: the parsed form, the session and how its user reads."""

    request: Request
    form: Mapping[str, str]
    session: sessions.Session | None
    reader: i18n.Reader

    @property
    def who(self) -> selfservice_usecases.Identity:
        if self.session is None:
            raise selfservice_decisions.RefusedError(401, "Unauthorized", "log in first")
        return self.session.who

    def query(self, name: str) -> str:
        return str(self.request.query_params.get(name, ""))[:MAX_FIELD]


class Portal:
    """The routes over one ``SelfService`` and its sessions."""

    def __init__(self, service: selfservice_usecases.SelfService, *, store: portal_db.Store | None = None,
                 failures: lockout.Lockout | None = None) -> None:
        self.service = service
        self.failures = failures or lockout.Lockout()
        self.store = store or portal_db.Store(service.store.engine)
        self.sessions = sessions.Sessions(service=service, store=self.store)
        self.templates = jinja2.Environment(loader=jinja2.PackageLoader("dctenant.api.portal", "templates"),
                                            autoescape=True, undefined=jinja2.StrictUndefined)
        self.templates.globals["fid"] = field_id

    # Plumbing

    def render(self, ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        page = self.templates.get_template(template).render(
            r=ctx.reader, session=ctx.session, csrf=ctx.session.csrf if ctx.session else "", prefix=PREFIX,
            path=ctx.request.url.path, done=ctx.query("done") if ctx.query("done") in DONE else "", **values)
        return HTMLResponse(page, status_code=status)

    def _page(self, handler: Callable[[Ctx], Response], *, public: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            import anyio.to_thread

            form: dict[str, str] = {}
            if request.method == "POST":
                parsed = await request.form(max_files=0, max_fields=200)
                form = {k: str(v)[:MAX_FIELD] for k, v in parsed.items() if isinstance(v, str)}
            return await anyio.to_thread.run_sync(self._run, request, form, handler, public)

        return endpoint

    def _run(self, request: Request, form: dict[str, str], handler: Callable[[Ctx], Response],
             public: bool) -> Response:
        session = self.sessions.find(request.cookies.get(sessions.COOKIE))
        prefs = session.prefs if session else portal_db.Preferences()
        reader = i18n.Reader(lang=prefs.lang, calendar=prefs.calendar, digits=prefs.digits)
        ctx = Ctx(request=request, form=form, session=session, reader=reader)
        if session is None and not public:
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        if request.method == "POST":
            if not _same_origin(request):
                return self.error(ctx, 403, "the form was posted from another site")
            if not public and (session is None or not sessions.same(form.get("csrf"), session.csrf)):
                return self.error(ctx, 403, "the form has no valid CSRF token; reload the page and try again")
        try:
            return handler(ctx)
        except selfservice_decisions.RefusedError as exc:
            return self.error(ctx, exc.status, exc.message)
        except UserError as exc:
            return self.error(ctx, 422, str(exc))
        except DctenantError as exc:
            return self.error(ctx, 503, str(exc))

    def error(self, ctx: Ctx, status: int, message: str) -> HTMLResponse:
        title = {403: "forbidden", 404: "notfound"}.get(status, "error")
        return self.render(ctx, "error.html", status=status, title=title, message=message)

    # Sessions

    def home(self, ctx: Ctx) -> Response:
        who = ctx.who
        if who.auditor:
            return _see(f"{PREFIX}/audit")
        if who.staff:
            return _see(f"{PREFIX}/staff")
        return _see(f"{PREFIX}/tenants/{who.tenant}")

    def login_form(self, ctx: Ctx, *, status: int = 200, message: str = "") -> Response:
        import secrets

        nonce = secrets.token_urlsafe(32)
        response = self.render(ctx, "login.html", status=status, nonce=nonce, message=message)
        response.headers.append("set-cookie", sessions.cookie_header(
            sessions.LOGIN_COOKIE, nonce, max_age=int(sessions.LOGIN_LIFETIME.total_seconds())))
        return response

    def login(self, ctx: Ctx) -> Response:
        # Before the session exists, CSRF is a double-submit: the form's nonce must equal its cookie.
        if not sessions.same(ctx.form.get("nonce"), ctx.request.cookies.get(sessions.LOGIN_COOKIE, "")):
            return self.error(ctx, 403, "the login form has expired or was not sent by this site; reload it")
        # Failed logins count against the client's address, with the API's (api/lockout.py).
        address = ctx.request.client.host if ctx.request.client else "unknown"
        wait = self.failures.wait(address)
        if wait:
            message = ctx.reader.t("login.wait").format(seconds=ctx.reader.num(wait))
            response = self.login_form(ctx, status=429, message=message)
            response.headers["retry-after"] = str(wait)
            return response
        try:
            session_id, _ = self.sessions.login(ctx.form.get("token", ""))
        except selfservice_decisions.RefusedError as exc:
            if exc.status == 401:
                self.failures.failed(address)
            return self.login_form(ctx, status=401, message=exc.message)
        response = _see(f"{PREFIX}/")
        response.headers.append("set-cookie", sessions.cookie_header(
            sessions.COOKIE, session_id, max_age=int(sessions.LIFETIME.total_seconds())))
        response.headers.append("set-cookie", sessions.cookie_header(sessions.LOGIN_COOKIE, "", max_age=0))
        return response

    def logout(self, ctx: Ctx) -> Response:
        if ctx.session is not None:
            self.sessions.logout(ctx.session)
        response = _see(f"{PREFIX}/login")
        response.headers.append("set-cookie", sessions.cookie_header(sessions.COOKIE, "", max_age=0))
        return response

    def prefs(self, ctx: Ctx) -> Response:
        session = ctx.session
        if session is None:
            return _see(f"{PREFIX}/login")
        lang = ctx.form.get("lang", "en")
        calendar = ctx.form.get("calendar", "gregorian")
        if lang not in i18n.LANGS or calendar not in i18n.CALENDARS:
            raise selfservice_decisions.RefusedError(422, "Invalid preference", "unknown language or calendar")
        self.sessions.remember(session, portal_db.Preferences(lang=lang, calendar=calendar,
                                                              digits=ctx.form.get("digits") == "on"))
        return _see(_local(ctx.form.get("next", ""), f"{PREFIX}/") + "?done=saved")

    # Messenger

    def tenant(self, ctx: Ctx, *, status: int = 200, error: str = "", checked: str = "") -> Response:
        tenant = ctx.request.path_params["tenant"]
        data = pages.tenant_page(self.service, ctx.who, tenant)
        return self.render(ctx, "tenant.html", status=status, page=data, error=error, checked=checked)

    def _tenant_write(self, ctx: Ctx, work: Callable[[selfservice_usecases.Identity, str], str]) -> Response:
        """Run a tenant's write; a refusal a user can fix (409, 422) re-renders the page with the reason."""
        tenant = ctx.request.path_params["tenant"]
        try:
            done = work(ctx.who, tenant)
        except selfservice_decisions.RefusedError as exc:
            if exc.status not in (409, 422):
                raise
            details = "; ".join(p.message for p in exc.problems)
            return self.tenant(ctx, status=exc.status,
                               error=f"{exc.title}: {exc.message}" + (f" ({details})" if details else ""))
        if done.startswith("checked:"):
            return self.tenant(ctx, checked=done.removeprefix("checked:"))
        return _see(f"{PREFIX}/tenants/{tenant}?done={done}")

    def create(self, ctx: Ctx) -> Response:
        def work(who: selfservice_usecases.Identity, tenant: str) -> str:
            body = {"name": ctx.form.get("name", "").strip(), "pool": ctx.form.get("pool", ""),
                    "quota": _quota(ctx.form)}
            if ctx.form.get("action") == "check":
                decision = self.service.check_create(who, tenant, body)
                return f"checked:{decision.name}"
            self.service.create(who, tenant, body)
            return "created"

        return self._tenant_write(ctx, work)

    def resize(self, ctx: Ctx) -> Response:
        name = ctx.request.path_params["name"]

        def work(who: selfservice_usecases.Identity, tenant: str) -> str:
            self.service.resize(who, tenant, name, {"quota": _quota(ctx.form)})
            return "resized"

        return self._tenant_write(ctx, work)

    def delete(self, ctx: Ctx) -> Response:
        name = ctx.request.path_params["name"]

        def work(who: selfservice_usecases.Identity, tenant: str) -> str:
            self.service.delete(who, tenant, name, force=ctx.form.get("force") == "on")
            return "deleted"

        return self._tenant_write(ctx, work)

    def file_request(self, ctx: Ctx) -> Response:
        def work(who: selfservice_usecases.Identity, tenant: str) -> str:
            self.service.file_request(who, tenant, {"pool": ctx.form.get("pool", ""), "mode": ctx.form.get("mode"),
                                                    "amounts": _quota(ctx.form), "reason": ctx.form.get("reason", "")})
            return "requested"

        return self._tenant_write(ctx, work)

    # Staff

    def staff(self, ctx: Ctx) -> Response:
        return self.render(ctx, "staff.html", page=pages.staff_page(self.service, ctx.who))

    def decide(self, ctx: Ctx) -> Response:
        verdict = ctx.request.path_params["verdict"]
        if verdict not in ("approve", "reject"):
            return self.error(ctx, 404, "no such page")
        approve = verdict == "approve"
        self.service.decide_request(ctx.who, int(ctx.request.path_params["id"]), approve=approve,
                                    reason=ctx.form.get("reason", ""))
        return _see(f"{PREFIX}/staff?done={'approved' if approve else 'rejected'}")

    # Auditor

    def audit(self, ctx: Ctx) -> Response:
        data = pages.audit_page(self.service, ctx.who, today=self.service.clock().date())
        return self.render(ctx, "audit.html", page=data)

    def report(self, ctx: Ctx) -> Response:
        from dctenant.api.portal import auditor_views

        return auditor_views.report(self, ctx)

    def ledger(self, ctx: Ctx) -> Response:
        from dctenant.api.portal import auditor_views

        return auditor_views.ledger(self, ctx)

    def verify(self, ctx: Ctx) -> Response:
        from dctenant.api.portal import auditor_views

        return auditor_views.verify(self, ctx)

    def proof(self, ctx: Ctx) -> Response:
        from dctenant.api.portal import auditor_views

        return auditor_views.proof(self, ctx)

    # Assets

    def static(self, ctx: Ctx) -> Response:
        name = ctx.request.path_params["name"]
        if name not in STATIC:
            return self.error(ctx, 404, f"no asset {name!r}")
        data = importlib.resources.files("dctenant.api.portal").joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"cache-control": "public, max-age=3600"})

    def routes(self) -> list[Route]:
        p = self._page
        return [
            Route("/", p(self.home), methods=["GET"]),
            Route("/login", p(self.login_form, public=True), methods=["GET"]),
            Route("/login", p(self.login, public=True), methods=["POST"]),
            Route("/logout", p(self.logout), methods=["POST"]),
            Route("/prefs", p(self.prefs), methods=["POST"]),
            Route("/static/{name}", p(self.static, public=True), methods=["GET"]),
            Route("/tenants/{tenant}", p(self.tenant), methods=["GET"]),
            Route("/tenants/{tenant}/namespaces", p(self.create), methods=["POST"]),
            Route("/tenants/{tenant}/namespaces/{name}/resize", p(self.resize), methods=["POST"]),
            Route("/tenants/{tenant}/namespaces/{name}/delete", p(self.delete), methods=["POST"]),
            Route("/tenants/{tenant}/requests", p(self.file_request), methods=["POST"]),
            Route("/staff", p(self.staff), methods=["GET"]),
            Route("/staff/requests/{id:int}/{verdict:str}", p(self.decide), methods=["POST"]),
            Route("/audit", p(self.audit), methods=["GET"]),
            Route("/audit/report", p(self.report), methods=["GET"]),
            Route("/audit/ledger", p(self.ledger), methods=["GET"]),
            Route("/audit/verify", p(self.verify), methods=["GET"]),
            Route("/audit/proof", p(self.proof), methods=["GET"]),
        ]


def create(service: selfservice_usecases.SelfService, *, store: portal_db.Store | None = None,
           failures: lockout.Lockout | None = None) -> Any:
    """The portal as an ASGI application (to mount at ``/portal``), with its security headers."""
    portal = Portal(service, store=store, failures=failures)
    app = Starlette(routes=portal.routes())
    app.state.portal = portal

    async def not_found(request: Request, exc: Exception) -> Response:
        del exc
        ctx = Ctx(request=request, form={}, session=None, reader=i18n.Reader())
        return portal.error(ctx, 404, "no such page")

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_found)
    return securing.SecurityHeaders(app)


def field_id(*parts: str) -> str:
    """An HTML id from names and resource keys (``q-lab-storage-ssd``), for ``<label for>``."""
    return "-".join(parts).replace(":", "-").replace("/", "-").replace(".", "-")


def _see(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _local(target: str, default: str) -> str:
    """``target`` when it is a path inside the portal (never another host: no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX + "/") or "//" in parts.path \
            or "\\" in target:
        return default
    return parts.path


def _quota(form: Mapping[str, str]) -> dict[str, str]:
    """The ``q:<resource>`` fields that were filled in, as a quota the use-cases read."""
    return {k.removeprefix("q:"): v.strip() for k, v in form.items() if k.startswith("q:") and v.strip()}


def _same_origin(request: Request) -> bool:
    """A POST's ``Origin`` (when the browser sends one) must be this host: a second line behind CSRF tokens."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin != "null" and urlsplit(origin).netloc == host


def query(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def parse_day(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise UserError(f"{text!r} is not a day such as 2026-11-29", location="since/until") from None
