"""The web portal through Starlette's TestClient: sessions, CSRF, headers, scopes, the auditor role.

Behind the portal: the test data centre (``bale`` and ``gap``, pool ``lab``), an in-memory cluster
(``selfservice_fakes.FakeCluster``), a SQLite store and a real SQLite ledger, and a clock the test
moves. The client speaks to ``https://testserver`` because the session cookie is ``Secure`` (and
``__Host-``): a client that dropped it over plain HTTP would test nothing.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import sqlite3
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette asks for its httpx fork (httpx2) and warns when it falls back to httpx, which works
    # for these tests and is what the project already depends on.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from dctenant.api import app as api_app
from dctenant.api.portal import securing, sessions
from dctenant.clients import ledger_db, portal_db, selfservice_db
from dctenant.ops import selfservice_usecases
from tests import selfservice_fakes
from tests.selfservice_quotas import write_quotas

BASE = "https://testserver"


class World:
    def __init__(self, tmp: pathlib.Path, *, failures: Any = None) -> None:
        quotas = write_quotas(tmp / "quotas")
        self.cluster = selfservice_fakes.FakeCluster()
        self.clock = selfservice_fakes.Clock()
        self.ledger = ledger_db.open_ledger(str(tmp / "ledger.db"))
        self.store_url = str(tmp / "selfservice.db")
        self.service = selfservice_usecases.SelfService(
            quotas_path=str(quotas), store=selfservice_db.Store(self.store_url), ledger=self.ledger,
            connect=lambda _context: self.cluster, clock=self.clock)  # type: ignore[arg-type,return-value]
        self.app = api_app.create_app(self.service, failures=failures)

    def token(self, *, tenant: str | None = None, auditor: bool = False) -> str:
        return self.service.create_token(selfservice_usecases.LOCAL, tenant=tenant, days=30, auditor=auditor).secret

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE, follow_redirects=False)

    def close(self) -> None:
        self.service.close()
        self.ledger.close()


@pytest.fixture
def world(tmp_path: pathlib.Path) -> Iterator[World]:
    built = World(tmp_path)
    yield built
    built.close()


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found[1]


def login(client: TestClient, token: str) -> Any:
    page = client.get("/portal/login")
    assert page.status_code == 200
    return client.post("/portal/login", data={"nonce": field(page.text, "nonce"), "token": token})


def logged_in(world: World, token: str) -> TestClient:
    client = world.client()
    answer = login(client, token)
    assert answer.status_code == 303, answer.text
    return client


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return field(page.text, "csrf")


SMALL = {"q:cpu": "1", "q:memory": "1Gi"}


# -- sessions and cookies ---------------------------------------------------------------------------

def test_login_sets_a_host_prefixed_secure_httponly_strict_cookie(world: World) -> None:
    client = world.client()
    token = world.token(tenant="bale")
    answer = login(client, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(sessions.COOKIE + "="))
    flags = {part.strip().split("=")[0].lower() for part in session.split(";")[1:]}
    assert flags == {"max-age", "path", "secure", "httponly", "samesite"}
    assert "Path=/;" in session and "SameSite=Strict" in session and "Domain" not in session
    assert token not in answer.headers["location"] and all(token not in c for c in cookies)
    assert client.get("/portal/").headers["location"] == "/portal/tenants/bale"


def test_the_session_id_is_stored_only_as_its_digest(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    value = client.cookies.get(sessions.COOKIE)
    assert value and len(value) >= 43
    with sqlite3.connect(world.store_url) as conn:
        rows = conn.execute("SELECT * FROM pt_sessions").fetchall()
    conn.close()
    stored = " ".join(str(c) for row in rows for c in row)
    assert len(rows) == 1 and value not in stored
    assert rows[0][0] == portal_db.session_digest(value)


def test_a_bad_token_gets_no_session(world: World) -> None:
    client = world.client()
    for token in ("dct_000000000000_" + "a" * 43, "nonsense", ""):
        answer = login(client, token)
        assert answer.status_code == 401
        assert not any(c.startswith(sessions.COOKIE + "=") for c in answer.headers.get_list("set-cookie"))
    assert client.get("/portal/tenants/bale").status_code == 303


def test_the_login_form_without_its_nonce_is_refused(world: World) -> None:
    client = world.client()
    token = world.token(tenant="bale")
    assert client.post("/portal/login", data={"token": token}).status_code == 403
    client.get("/portal/login")
    assert client.post("/portal/login", data={"token": token, "nonce": "forged"}).status_code == 403


def test_logout_kills_the_session_on_the_server(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    stolen = client.cookies.get(sessions.COOKIE)
    answer = client.post("/portal/logout", data={"csrf": csrf(client, "/portal/tenants/bale")})
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/login"
    assert any(c.startswith(sessions.COOKIE + "=;") and "Max-Age=0" in c for c in answer.headers.get_list("set-cookie"))
    thief = world.client()
    thief.cookies.set(sessions.COOKIE, str(stolen))
    assert thief.get("/portal/tenants/bale").status_code == 303  # the copied cookie is dead too


def test_revoking_the_token_ends_its_sessions(world: World) -> None:
    token = world.token(tenant="bale")
    client = logged_in(world, token)
    assert client.get("/portal/tenants/bale").status_code == 200
    world.service.revoke_token(selfservice_usecases.LOCAL, token.split("_")[1])
    assert client.get("/portal/tenants/bale").status_code == 303


def test_a_session_lives_eight_hours_exactly(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    start = world.clock.now
    world.clock.now = start + dt.timedelta(hours=8) - dt.timedelta(microseconds=1)
    assert client.get("/portal/tenants/bale").status_code == 200
    world.clock.now = start + dt.timedelta(hours=8)
    assert client.get("/portal/tenants/bale").status_code == 303


def test_the_session_ends_when_the_token_expires(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))  # a 30-day token, an 8-hour session
    world.clock.now += dt.timedelta(days=30)
    assert client.get("/portal/tenants/bale").status_code == 303


# -- CSRF, origin -----------------------------------------------------------------------------------

def test_a_form_without_the_csrf_token_is_refused(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    form = {"name": "bale-web", "pool": "lab", "action": "create", **SMALL}
    assert client.post("/portal/tenants/bale/namespaces", data=form).status_code == 403
    assert client.post("/portal/tenants/bale/namespaces", data={**form, "csrf": good[:-1]}).status_code == 403
    assert client.post("/portal/logout", data={}).status_code == 403
    assert world.cluster.named("Namespace") == set()
    assert client.post("/portal/tenants/bale/namespaces", data={**form, "csrf": good}).status_code == 303
    assert world.cluster.named("Namespace") == {"bale-web"}


def test_a_post_from_another_origin_is_refused(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    form = {"name": "bale-web", "pool": "lab", "action": "create", "csrf": good, **SMALL}
    answer = client.post("/portal/tenants/bale/namespaces", data=form, headers={"origin": "https://evil.example"})
    assert answer.status_code == 403 and world.cluster.named("Namespace") == set()
    same = client.post("/portal/tenants/bale/namespaces", data=form, headers={"origin": BASE})
    assert same.status_code == 303


# -- headers and URLs on every page -----------------------------------------------------------------

def pages_of(world: World) -> list[tuple[TestClient, str]]:
    tenant = logged_in(world, world.token(tenant="bale"))
    staff = logged_in(world, world.token())
    auditor = logged_in(world, world.token(auditor=True))
    anonymous = world.client()
    return [(anonymous, "/portal/login"), (anonymous, "/portal/nowhere"), (anonymous, "/portal/static/portal.css"),
            (tenant, "/portal/tenants/bale"), (tenant, "/portal/tenants/gap"), (tenant, "/portal/staff"),
            (staff, "/portal/staff"), (staff, "/portal/tenants/gap"), (auditor, "/portal/audit"),
            (auditor, "/portal/audit/ledger"), (auditor, "/portal/audit/verify"),
            (auditor, "/portal/audit/report?kind=allocation&calendar=gregorian&period=2026-10&format=view"),
            (auditor, "/portal/audit/report?kind=usage&calendar=jalali&period=1405-08&format=view"),
            (auditor, "/portal/tenants/bale")]


def test_every_response_has_the_csp_and_security_headers(world: World) -> None:
    seen = set()
    for client, path in pages_of(world):
        answer = client.get(path)
        seen.add(answer.status_code)
        assert answer.headers["content-security-policy"] == securing.CSP, path
        csp = dict(part.strip().split(" ", 1) for part in securing.CSP.split(";"))
        assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'"
        assert "unsafe-inline" not in securing.CSP
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "same-origin", path
    assert {200, 403, 404, 422} <= seen


ATTRIBUTE = re.compile(r'\b(?:href|src|action|srcset|formaction|xlink:href)\s*=\s*"([^"]*)"', re.I)


def test_no_page_names_an_external_url_or_has_inline_script_or_style(world: World) -> None:
    for client, path in pages_of(world):
        html = client.get(path).text
        if path.endswith(".css"):
            assert "url(" not in html and "@import" not in html
            continue
        for target in ATTRIBUTE.findall(html):
            assert target.startswith("/portal/") or target == "/portal", (path, target)
        assert "http://" not in html and "https://" not in html, path
        assert "<script" not in html and "style=" not in html and "<style" not in html, path
        assert re.search(r"\son[a-z]+\s*=", html) is None, path  # no inline event handlers


def test_a_token_is_only_ever_posted_never_put_in_a_url(world: World) -> None:
    html = world.client().get("/portal/login").text
    form = re.search(r'<form method="(\w+)" action="/portal/login"', html)
    assert form and form[1] == "post"
    assert 'type="password" id="token" name="token"' in html


# -- scopes -----------------------------------------------------------------------------------------

def test_tenant_a_cannot_reach_tenant_b(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    assert client.get("/portal/tenants/gap").status_code == 403
    assert client.get("/portal/tenants/nosuch").status_code == 403  # scope first, so no tenant list leaks
    for path, form in (("/portal/tenants/gap/namespaces", {"name": "gap-x", "pool": "lab", **SMALL}),
                       ("/portal/tenants/gap/namespaces/gap-core/resize", SMALL),
                       ("/portal/tenants/gap/namespaces/gap-core/delete", {}),
                       ("/portal/tenants/gap/requests", {"pool": "lab", "mode": "add", "reason": "x", **SMALL}),
                       ("/portal/staff/requests/1/approve", {})):
        assert client.post(path, data={**form, "csrf": good}).status_code == 403, path
    for path in ("/portal/staff", "/portal/audit", "/portal/audit/ledger", "/portal/audit/proof?event=1",
                 "/portal/audit/report?kind=allocation&calendar=gregorian&period=2026-10&format=csv"):
        assert client.get(path).status_code == 403, path
    assert world.cluster.named("Namespace") == set()


def test_an_auditor_reads_every_tenant_and_writes_nothing(world: World) -> None:
    world.service.file_request(selfservice_usecases.Identity(token="t", tenant="bale"), "bale",
                               {"pool": "lab", "mode": "add", "amounts": {"cpu": "1"}, "reason": "more"})
    client = logged_in(world, world.token(auditor=True))
    assert client.get("/portal/").headers["location"] == "/portal/audit"
    page = client.get("/portal/tenants/gap")
    assert page.status_code == 200 and 'action="/portal/tenants/gap/namespaces"' not in page.text
    good = csrf(client, "/portal/audit")
    for path, form in (("/portal/tenants/bale/namespaces", {"name": "bale-x", "pool": "lab", **SMALL}),
                       ("/portal/tenants/bale/namespaces", {"name": "bale-x", "pool": "lab", "action": "check",
                                                            **SMALL}),
                       ("/portal/tenants/bale/requests", {"pool": "lab", "mode": "add", "reason": "x", **SMALL}),
                       ("/portal/staff/requests/1/approve", {}), ("/portal/staff/requests/1/reject", {})):
        assert client.post(path, data={**form, "csrf": good}).status_code == 403, path
    assert client.get("/portal/staff").status_code == 403
    assert world.cluster.named("Namespace") == set()
    assert [r["state"] for r in world.service.requests(selfservice_usecases.LOCAL)] == ["pending"]


def test_the_api_refuses_every_write_of_an_auditor_token(world: World) -> None:
    auth = {"Authorization": f"Bearer {world.token(auditor=True)}"}
    client = world.client()
    assert client.get("/v1/whoami", headers=auth).json()["scope"] == "auditor"
    for path in ("/v1/tenants/bale/envelope", "/v1/tenants/gap/namespaces", "/v1/requests",
                 "/v1/tenants/bale/requests"):
        assert client.get(path, headers=auth).status_code == 200, path
    for method, path, body in (("POST", "/v1/tenants/bale/namespaces", {"name": "bale-x", "pool": "lab",
                                                                        "quota": {"cpu": "1", "memory": "1Gi"}}),
                               ("PATCH", "/v1/tenants/bale/namespaces/bale-x", {"quota": {"cpu": "1"}}),
                               ("DELETE", "/v1/tenants/bale/namespaces/bale-core", None),
                               ("POST", "/v1/tenants/bale/requests", {"pool": "lab", "add": {"cpu": "1"},
                                                                      "reason": "x"}),
                               ("POST", "/v1/requests/1/approve", {"reason": ""}),
                               ("POST", "/v1/tokens", {"scope": "staff"}), ("DELETE", "/v1/tokens/abc", None),
                               ("GET", "/v1/tokens", None)):
        answer = client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 403, (method, path, answer.text)
    assert world.cluster.named("Namespace") == set()


def test_the_use_cases_refuse_an_auditor_write_without_the_guard(world: World) -> None:
    auditor = selfservice_usecases.Identity(token="a", tenant=None, role="auditor")
    assert not auditor.staff and auditor.auditor and auditor.scope == "auditor"
    with pytest.raises(selfservice_usecases.RefusedError) as refused:
        world.service.create(auditor, "bale", {"name": "bale-x", "pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}})
    assert refused.value.status == 403
    with pytest.raises(selfservice_usecases.RefusedError):
        world.service.create_token(auditor, tenant=None, days=1)
    with pytest.raises(selfservice_usecases.RefusedError):
        world.service.create_token(selfservice_usecases.LOCAL, tenant="bale", days=1, auditor=True)
    assert world.service.envelope(auditor, "gap")["tenant"] == "gap"


# -- the messenger's work ---------------------------------------------------------------------------

def test_check_shows_what_fits_without_creating(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    form = {"name": "bale-web", "pool": "lab", "csrf": good, **SMALL}
    page = client.post("/portal/tenants/bale/namespaces", data={**form, "action": "check"})
    assert page.status_code == 200 and "It fits." in page.text
    assert world.cluster.named("Namespace") == set()
    too_big = client.post("/portal/tenants/bale/namespaces", data={**form, "action": "create", "q:cpu": "10.001"})
    assert too_big.status_code == 409 and "Envelope exceeded" in too_big.text
    exact = client.post("/portal/tenants/bale/namespaces", data={**form, "action": "create", "q:cpu": "10"})
    assert exact.status_code == 303  # 12 CPUs of demand, 2 in bale-core: exactly 10 free
    assert world.cluster.named("Namespace") == {"bale-web"}


def test_create_resize_delete_and_request_from_the_page(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    made = client.post("/portal/tenants/bale/namespaces",
                       data={"name": "bale-web", "pool": "lab", "action": "create", "csrf": good, **SMALL})
    assert made.headers["location"] == "/portal/tenants/bale?done=created"
    page = client.get(made.headers["location"]).text
    assert 'id="ns-bale-web"' in page and "Namespace created" in page
    assert 'id="rs-bale-web-memory" name="q:memory" value="1Gi"' in page  # as quotas/ writes it, not bytes
    resized = client.post("/portal/tenants/bale/namespaces/bale-web/resize",
                          data={"csrf": good, "q:cpu": "2", "q:memory": "1Gi"})
    assert resized.status_code == 303
    assert world.service.namespace(selfservice_usecases.LOCAL, "bale", "bale-web")["quota"]["cpu"] == "2"
    asked = client.post("/portal/tenants/bale/requests",
                        data={"csrf": good, "pool": "lab", "mode": "add", "q:cpu": "4", "reason": "launch"})
    assert asked.status_code == 303
    assert 'id="request-1"' in client.get("/portal/tenants/bale").text
    gone = client.post("/portal/tenants/bale/namespaces/bale-web/delete", data={"csrf": good})
    assert gone.status_code == 303 and world.cluster.named("Namespace") == set()


def test_staff_approve_and_the_tenant_sees_it(world: World) -> None:
    world.service.file_request(selfservice_usecases.Identity(token="t", tenant="bale"), "bale",
                               {"pool": "lab", "mode": "add", "amounts": {"cpu": "4"}, "reason": "launch"})
    staff = logged_in(world, world.token())
    page = staff.get("/portal/staff").text
    assert 'id="request-1"' in page and "launch" in page
    unknown = staff.post("/portal/staff/requests/1/approves", data={"csrf": field(page, "csrf"), "reason": "ok"})
    assert unknown.status_code == 404 and world.service.requests(selfservice_usecases.LOCAL)[0]["state"] == "pending"
    answer = staff.post("/portal/staff/requests/1/approve", data={"csrf": field(page, "csrf"), "reason": "ok"})
    assert answer.headers["location"] == "/portal/staff?done=approved"
    assert 'id="request-1"' not in staff.get("/portal/staff").text
    tenant = logged_in(world, world.token(tenant="bale")).get("/portal/tenants/bale").text
    assert re.search(r'id="request-1">.*?class="state-approved">approved<', tenant, re.S)


# -- preferences, languages, calendars --------------------------------------------------------------

def test_persian_jalali_digits_are_remembered_per_token(world: World) -> None:
    token = world.token(tenant="bale")
    client = logged_in(world, token)
    good = csrf(client, "/portal/tenants/bale")
    saved = client.post("/portal/prefs", data={"csrf": good, "lang": "fa", "calendar": "jalali", "digits": "on",
                                               "next": "/portal/tenants/bale"})
    assert saved.headers["location"] == "/portal/tenants/bale?done=saved"
    again = logged_in(world, token).get("/portal/tenants/bale").text  # a new session of the same token
    assert '<html lang="fa" dir="rtl">' in again
    # 2026-11-27 is 6 Azar 1405 (day 252 of a year that began on 21 March 2026), by hand.
    assert "۱۴۰۵/۰۹/۰۶" in again
    other = logged_in(world, world.token(tenant="bale")).get("/portal/tenants/bale").text
    assert '<html lang="en" dir="ltr">' in other and "2026-11-27" in other


def test_prefs_never_redirect_off_the_portal(world: World) -> None:
    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    for target in ("https://evil.example/portal/", "//evil.example/portal/", "/portal//evil", "/v1/whoami",
                   "/portal\\..\\x"):
        answer = client.post("/portal/prefs", data={"csrf": good, "lang": "en", "calendar": "gregorian",
                                                    "next": target})
        assert answer.headers["location"] == "/portal/?done=saved", target
    refused = client.post("/portal/prefs", data={"csrf": good, "lang": "de", "calendar": "gregorian"})
    assert refused.status_code == 422


# -- the auditor's pages ----------------------------------------------------------------------------

def test_an_auditor_downloads_a_report_in_each_format(world: World) -> None:
    client = logged_in(world, world.token(auditor=True))
    for form, start in (("csv", "section,key,value"), ("json", "{"), ("html", "<!DOCTYPE html>")):
        answer = client.get(f"/portal/audit/report?kind=allocation&calendar=gregorian&period=2026-10&format={form}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"] == f'attachment; filename="allocation-2026-10.{form}"'
        assert answer.text.lstrip().startswith(start), form
    jalali = client.get("/portal/audit/report?kind=allocation&calendar=jalali&period=1405-08&format=csv")
    assert jalali.status_code == 200 and "1405-08" in jalali.text
    view = client.get("/portal/audit/report?kind=allocation&calendar=gregorian&period=2026-10&format=view")
    assert view.status_code == 200 and 'id="download-csv"' in view.text
    future = client.get("/portal/audit/report?kind=allocation&calendar=gregorian&period=2027-01&format=csv")
    assert future.status_code == 422 and "nothing to report yet" in future.text


def test_the_ledger_browser_filters_and_proves(world: World) -> None:
    for tenant in ("bale", "gap"):
        world.service.file_request(selfservice_usecases.Identity(token="t", tenant=tenant), tenant,
                                   {"pool": "lab", "mode": "add", "amounts": {"cpu": "1"}, "reason": "more"})
    client = logged_in(world, world.token(auditor=True))
    everything = client.get("/portal/audit/ledger").text
    seqs = re.findall(r'<tr id="event-(\d+)">', everything)
    assert len(seqs) == world.ledger.count()
    only = client.get("/portal/audit/ledger?kind=quota-increase-requested&tenant=gap").text
    assert len(re.findall(r'<tr id="event-\d+">', only)) == 1 and "gap" in only
    assert client.get("/portal/audit/ledger?since=2026-11-28").text.count('<tr id="event-') == 0
    assert client.get("/portal/audit/ledger?since=2026-11-27").text.count('<tr id="event-') == len(seqs)
    assert client.get("/portal/audit/ledger?until=2026-11-27").text.count('<tr id="event-') == 0
    no_checkpoint = client.get("/portal/audit/proof?event=1")
    assert no_checkpoint.status_code == 422 and "no signed checkpoint" in no_checkpoint.text


# -- usage, verification, proofs ---------------------------------------------------------------------

def test_usage_is_summed_per_pool_and_drawn(world: World) -> None:
    from decimal import Decimal

    from dctenant.domain import usage

    unseen: set[str] = set()

    def measure(names: Any, at: dt.datetime) -> usage.Usage:
        # bale-core uses 1.5 CPUs, each namespace 1Gi; a seen namespace without a series uses nothing.
        amounts = {n: {"memory": Decimal(2**30)} for n in names if n not in unseen}
        amounts["bale-core"]["cpu"] = Decimal("1.5")
        return usage.Usage(at=at, amounts=amounts, seen=frozenset(names) - unseen)

    client = logged_in(world, world.token(tenant="bale"))
    good = csrf(client, "/portal/tenants/bale")
    client.post("/portal/tenants/bale/namespaces", data={"name": "bale-web", "pool": "lab", "action": "create",
                                                         "csrf": good, **SMALL})
    world.service.measure = measure
    page = client.get("/portal/tenants/bale").text
    used = re.findall(r'<td class="num">([^<]*)</td>\n<td><svg', page)  # the Used column, before each chart
    assert used == ["1.5", "2Gi", "0"]
    assert 'aria-label="memory: envelope 12Gi, held 3Gi, used 2Gi"' in page
    # 240 units for the largest of envelope (12Gi), held (3Gi) and used (2Gi): 60 and 40 units.
    assert '<rect class="held" x="0" y="6" width="60.0" height="12"/>' in page
    assert '<rect class="used" x="0" y="9" width="40.0" height="6"/>' in page
    unseen.add("bale-web")  # Prometheus has no series of bale-web at all: every sum it is part of is unknown
    page = client.get("/portal/tenants/bale").text
    assert re.findall(r'<td class="num">([^<]*)</td>\n<td><svg', page) == ["unknown"] * 3
    assert 'aria-label="cpu: envelope 12, held 3, used unknown"' in page


def test_verification_and_an_inclusion_proof_against_a_signed_checkpoint(world: World,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import hashlib

    from dctenant.clients import signing

    signer = signing.generate(name="ndc.example/ledger")
    monkeypatch.setenv(signing.PUBLIC_KEY_ENV, signer.verifier.text())
    client = logged_in(world, world.token(auditor=True))
    assert world.ledger.count() == 1  # the auditor's token-created
    world.service.file_request(selfservice_usecases.Identity(token="t", tenant="bale"), "bale",
                               {"pool": "lab", "mode": "add", "amounts": {"cpu": "1"}, "reason": "more"})
    assert world.ledger.count() == 2
    unsigned = client.get("/portal/audit/verify").text
    assert "covered by no checkpoint signed" in unsigned
    world.ledger.sign_head(signer)
    audit = client.get("/portal/audit").text
    assert "ndc.example/ledger" in audit
    verified = client.get("/portal/audit/verify").text
    assert "2 events, chain intact; tree consistent with 1 signed checkpoint(s)" in verified
    proof = client.get("/portal/audit/proof?event=1").text
    first, second = (world.ledger.event(1), world.ledger.event(2))
    assert first is not None and second is not None
    # RFC 6962 by hand: leaves are SHA-256(0x00 || event hash), the root of two is SHA-256(0x01 || l1 || l2).
    l1 = hashlib.sha256(b"\x00" + bytes.fromhex(first.hash)).digest()
    l2 = hashlib.sha256(b"\x00" + bytes.fromhex(second.hash)).digest()
    root = hashlib.sha256(b"\x01" + l1 + l2).digest()
    assert f"<dt>rootHash</dt><dd>{base64.b64encode(root).decode()}</dd>" in proof
    assert f"<li>{base64.b64encode(l2).decode()}</li>" in proof
    assert client.get("/portal/audit/proof?event=3").status_code == 422  # newer than the checkpoint


def test_the_overview_is_the_three_reads_in_one(world: World) -> None:
    bale = selfservice_usecases.Identity(token="t", tenant="bale")
    world.service.create(bale, "bale", {"name": "bale-web", "pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}})
    world.service.file_request(bale, "bale", {"pool": "lab", "mode": "add", "amounts": {"cpu": "1"}, "reason": "r"})
    seen = world.service.overview(bale, "bale")
    assert seen.envelope == world.service.envelope(bale, "bale")
    assert seen.namespaces == world.service.namespaces(bale, "bale")
    assert [n["name"] for n in seen.namespaces] == ["bale-core", "bale-web"]
    assert seen.requests == world.service.requests(bale, tenant="bale") and len(seen.requests) == 1
    with pytest.raises(selfservice_usecases.RefusedError) as refused:
        world.service.overview(bale, "gap")
    assert refused.value.status == 403
