"""The web portal in a real browser: Debian's headless Chromium driven by chromedriver through selenium.

The application is the one ``dctenant serve`` runs (``api.app.create_app``), under uvicorn on
127.0.0.1 and a random port, over a real PostgreSQL and a kmock cluster (``selfservice_env``).
The service's clock is fixed at 2026-11-27 12:00 UTC so that dates can be checked against a
hand conversion: 2026-11-27 is 6 Azar 1405 (1405 began on 21 March 2026; 11 + 30 + 31 + 30 + 31
+ 31 + 30 + 31 + 27 = 252 days in, and months 1-6 have 31 days, 7-8 have 30: 186 + 60 = 246,
so day 6 of month 9), and bale's licence is set to expire on 2027-03-21, which is 1 Farvardin
1406 (1405 is not a leap year: 365 days after 2026-03-21), 114 days later (3 + 31 + 31 + 28 + 21).

The tests save screenshots into docs/portal/ for docs/portal.md.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests import chromium
from tests.integration import postgres_server, selfservice_env

pytestmark = pytest.mark.integration

SHOTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "portal"
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __call__(self) -> dt.datetime:
        return NOW


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server.running() as url:
        yield url


@pytest.fixture
def env(postgres: str, tmp_path: pathlib.Path) -> Iterator[selfservice_env.Env]:
    name = "p" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    database = postgres.rsplit("/", 1)[0] + "/" + name
    with selfservice_env.environment(tmp_path, database=database, clock=Clock()) as started:
        bale = started.quotas / "tenants" / "bale.yaml"
        bale.write_text(bale.read_text(encoding="utf-8").replace("expires: 2099-01-01", "expires: 2027-03-21"),
                        encoding="utf-8")
        yield started


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: pathlib.Path) -> Iterator[Any]:
    with chromium.chromium(size="1200,900", downloads=downloads, flags=(
            "--disable-background-networking", "--disable-component-update", "--lang=en-US")) as driver:
        yield driver


def by(what: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, what)


def log_in(browser: Any, env: selfservice_env.Env, token: str) -> None:
    browser.delete_all_cookies()
    browser.get(env.url + "/portal/login")
    browser.find_element(by("ID"), "token").send_keys(token)
    browser.find_element(by("CSS_SELECTOR"), "form.login button").click()
    wait(lambda: "/portal/login" not in browser.current_url, "the login to finish")


def log_out(browser: Any) -> None:
    browser.find_element(by("CSS_SELECTOR"), "form.logout button").click()
    wait(lambda: browser.current_url.endswith("/portal/login"), "the logout")


def wait(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def shoot(browser: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    data = browser.get_screenshot_as_png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000  # a drawn page, not a blank one
    (SHOTS / f"{name}.png").write_bytes(data)


def heading(browser: Any) -> str:
    return str(browser.find_element(by("TAG_NAME"), "h1").text)


# What a page must pass, measured in the browser.
ACCESSIBILITY = """
const problems = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const labelled = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'))
    || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  if (!labelled) problems.push('unlabelled ' + el.outerHTML.slice(0, 80));
}
let previous = 0;
for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
  const level = Number(h.tagName[1]);
  if (previous === 0 && level !== 1) problems.push('first heading is ' + h.tagName);
  if (level > previous + 1) problems.push(h.tagName + ' after h' + previous + ': ' + h.textContent.slice(0, 40));
  previous = level;
}
if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) problems.push('img without alt ' + img.src);
}
for (const svg of document.querySelectorAll('svg')) {
  if (svg.getAttribute('role') !== 'img' || !svg.getAttribute('aria-label')) problems.push('svg without role/label');
}
if (!document.documentElement.lang) problems.push('no lang');
return problems;
"""

# Pairs of visible text runs whose boxes overlap by more than a pixel each way.
OVERLAPS = """
const rects = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  if (!node.textContent.trim()) continue;
  const style = getComputedStyle(node.parentElement);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  if (node.parentElement.closest('svg, option, select')) continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  for (const r of range.getClientRects()) {
    if (r.width > 0 && r.height > 0) rects.push({text: node.textContent.trim().slice(0, 30), r});
  }
}
const found = [];
for (let i = 0; i < rects.length; i++) {
  for (let j = i + 1; j < rects.length; j++) {
    const a = rects[i].r, b = rects[j].r;
    const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (x > 1 && y > 1) found.push([rects[i].text, rects[j].text]);
  }
}
return {count: rects.length, overlaps: found.slice(0, 20)};
"""


def accessible(browser: Any) -> None:
    problems = browser.execute_script(ACCESSIBILITY)
    assert problems == [], (browser.current_url, problems)


def test_tenant_logs_in_creates_a_namespace_and_sees_it(browser: Any, env: selfservice_env.Env) -> None:
    browser.delete_all_cookies()
    browser.get(env.url + "/portal/login")
    accessible(browser)
    shoot(browser, "login")
    log_in(browser, env, env.token(tenant="bale"))
    assert browser.current_url == env.url + "/portal/tenants/bale"
    cookie = browser.get_cookie("__Host-dctenant-session")  # Chromium keeps a Secure cookie on http://127.0.0.1
    assert cookie is not None and cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script sees it
    accessible(browser)
    name = browser.find_element(by("ID"), "name-lab")
    name.clear()
    name.send_keys("bale-web")
    browser.find_element(by("ID"), "q-lab-cpu").send_keys("1")
    browser.find_element(by("ID"), "q-lab-memory").send_keys("1Gi")
    browser.find_element(by("CSS_SELECTOR"), 'form[aria-labelledby="create-lab"] button[value="create"]').click()
    wait(lambda: "done=created" in browser.current_url, "the create to redirect")
    row = browser.find_element(by("ID"), "ns-bale-web")
    assert "self-service" in row.text and "active" in row.text
    assert env.cluster.objects  # kmock holds the namespace's objects
    shoot(browser, "tenant")
    section = browser.find_element(by("CSS_SELECTOR"), 'section[aria-labelledby="h-namespaces"]')
    browser.execute_script("arguments[0].scrollIntoView()", section)
    data = section.screenshot_as_png
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    (SHOTS / "tenant-namespaces.png").write_bytes(data)


def test_tenant_a_cannot_reach_tenant_b(browser: Any, env: selfservice_env.Env) -> None:
    log_in(browser, env, env.token(tenant="bale"))
    for path in ("/portal/tenants/gap", "/portal/staff", "/portal/audit", "/portal/audit/ledger"):
        browser.get(env.url + path)
        assert heading(browser) == "Refused" or heading(browser).startswith("You may not"), path
        assert "gap-core" not in browser.page_source
    browser.get(env.url + "/portal/tenants/gap")
    assert "this token is scoped to tenant bale, not gap" in browser.page_source


def test_staff_approve_a_request_and_the_tenant_sees_it(browser: Any, env: selfservice_env.Env) -> None:
    tenant = env.token(tenant="bale")
    log_in(browser, env, tenant)
    browser.find_element(by("ID"), "ask-lab-cpu").send_keys("4")
    browser.find_element(by("ID"), "reason-lab").send_keys("a launch in December")
    browser.find_element(by("CSS_SELECTOR"), 'form[aria-labelledby="ask-lab"] button').click()
    wait(lambda: "done=requested" in browser.current_url, "the request to be filed")
    assert "pending" in browser.find_element(by("ID"), "request-1").text
    log_out(browser)
    log_in(browser, env, env.token(tenant=None))
    assert browser.current_url.endswith("/portal/staff")
    accessible(browser)
    shoot(browser, "staff")
    browser.find_element(by("ID"), "approve-1").send_keys("budget agreed")
    browser.find_element(by("CSS_SELECTOR"), "#request-1 button.approve").click()
    wait(lambda: "done=approved" in browser.current_url, "the approval")
    assert not browser.find_elements(by("ID"), "request-1")
    log_out(browser)
    log_in(browser, env, tenant)
    row = browser.find_element(by("ID"), "request-1").text
    assert "approved" in row and "budget agreed" in row


def test_an_auditor_opens_a_report_and_downloads_csv(browser: Any, env: selfservice_env.Env,
                                                     downloads: pathlib.Path) -> None:
    from selenium.webdriver.support.ui import Select

    log_in(browser, env, _auditor(env))
    assert browser.current_url.endswith("/portal/audit")
    accessible(browser)
    shoot(browser, "audit")
    Select(browser.find_element(by("ID"), "kind-jalali")).select_by_value("allocation")
    Select(browser.find_element(by("ID"), "period-jalali")).select_by_value("1405-08")
    browser.find_element(by("CSS_SELECTOR"), 'form[aria-labelledby="h-report-jalali"] button').click()
    wait(lambda: "/portal/audit/report" in browser.current_url, "the report")
    assert "Allocation" in heading(browser) or "allocation" in heading(browser)
    accessible(browser)
    shoot(browser, "report")
    browser.find_element(by("ID"), "download-csv").click()
    target = downloads / "allocation-1405-08.csv"
    wait(target.exists, "the CSV download")
    text = wait(lambda: target.read_text(encoding="utf-8") if target.stat().st_size else "", "the CSV's content")
    assert text.startswith("section,key,value")
    assert "meta,period,1405-08" in text and "meta,calendar,jalali" in text


def _auditor(env: selfservice_env.Env) -> str:
    from dctenant.ops import selfservice_usecases

    return env.service.create_token(selfservice_usecases.LOCAL, tenant=None, days=30, auditor=True).secret


def test_persian_pages_are_rtl_jalali_and_nothing_overlaps(browser: Any, env: selfservice_env.Env) -> None:
    from selenium.webdriver.support.ui import Select

    log_in(browser, env, env.token(tenant="bale"))
    Select(browser.find_element(by("ID"), "pref-lang")).select_by_value("fa")
    Select(browser.find_element(by("ID"), "pref-calendar")).select_by_value("jalali")
    browser.find_element(by("ID"), "pref-digits").click()
    browser.find_element(by("CSS_SELECTOR"), "form.prefs button").click()
    wait(lambda: "done=saved" in browser.current_url, "the preferences")
    assert browser.execute_script("return [document.documentElement.lang, document.documentElement.dir, "
                                  "getComputedStyle(document.body).direction]") == ["fa", "rtl", "rtl"]
    dates = [e.text for e in browser.find_elements(by("CSS_SELECTOR"), "dl.facts dd.date")]
    assert dates == ["۱۴۰۶/۰۱/۰۱", "۱۴۰۵/۰۹/۰۶"]  # licence expiry and today, converted by hand above
    facts = browser.find_element(by("CSS_SELECTOR"), "dl.facts").text
    assert "۱۱۴" in facts  # days left
    left, right, width = browser.execute_script(
        "const range = document.createRange(); range.selectNodeContents(document.querySelector('h1'));"
        "const r = range.getBoundingClientRect(); return [r.left, r.right, document.documentElement.clientWidth];")
    assert width - right < left  # the heading's text starts at the right-hand side
    measured = browser.execute_script(OVERLAPS)
    assert measured["count"] > 100 and measured["overlaps"] == [], measured
    accessible(browser)
    shoot(browser, "tenant-fa")
    # The preference belongs to the token: a new session of it reads Persian again, the staff page too.
    browser.get(env.url + "/portal/tenants/bale")
    assert browser.execute_script("return document.documentElement.dir") == "rtl"


def set_persian(browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(by("ID"), "pref-lang")).select_by_value("fa")
    Select(browser.find_element(by("ID"), "pref-calendar")).select_by_value("jalali")
    browser.find_element(by("ID"), "pref-digits").click()
    browser.find_element(by("CSS_SELECTOR"), "form.prefs button").click()
    wait(lambda: "done=saved" in browser.current_url, "the preferences")


def test_staff_and_auditor_pages_in_persian_do_not_overlap(browser: Any, env: selfservice_env.Env) -> None:
    env.service.file_request(env.service.authenticate(f"Bearer {env.token(tenant='gap')}"), "gap",
                             {"pool": "lab", "mode": "add", "amounts": {"cpu": "2"}, "reason": "برای رشد"})
    log_in(browser, env, env.token(tenant=None))
    set_persian(browser)
    for path in ("/portal/staff", "/portal/tenants/gap"):
        browser.get(env.url + path)
        assert browser.execute_script("return document.documentElement.dir") == "rtl"
        measured = browser.execute_script(OVERLAPS)
        assert measured["count"] > 50 and measured["overlaps"] == [], (path, measured)
        accessible(browser)
    # The request was filed at the service's 2026-11-27 12:00 UTC: 6 Azar 1405, by hand.
    browser.get(env.url + "/portal/staff")
    assert "۱۴۰۵/۰۹/۰۶ ۱۲:۰۰ UTC" in browser.find_element(by("ID"), "request-1").text
    # The runway of pool lab, in words: the ledger holds no recorded plan, so today's is the only point.
    runway = browser.find_element(by("ID"), "runway-lab-cpu")
    assert runway.is_displayed()
    assert "سابقه‌ی ناکافی: ۱ نقطه‌ی روزانه؛ پیش‌بینی دست‌کم ۱۴ نقطه لازم دارد" in runway.text
    log_out(browser)
    log_in(browser, env, _auditor(env))
    set_persian(browser)
    for path in ("/portal/audit", "/portal/audit/ledger"):
        browser.get(env.url + path)
        measured = browser.execute_script(OVERLAPS)
        assert measured["count"] > 20 and measured["overlaps"] == [], (path, measured)
        accessible(browser)
    browser.get(env.url + "/portal/audit")
    periods = [o.get_attribute("value") for o in browser.find_elements(by("CSS_SELECTOR"), "#period-jalali option")]
    assert periods[:3] == ["1405-09", "1405-08", "1405-07"]  # Azar, Aban, Mehr 1405
