"""The staff page's runway per pool, through Starlette's TestClient, from a synthetic ledger history.

The test data centre (tests/selfservice_quotas.py): pool ``lab`` of 100 CPUs, 100Gi, 1Ti of
ssd-standard and no reserve, so allocatable = capacity; ``bale`` and ``gap`` ask for 12 CPUs, 12Gi
and 100Gi of ssd-standard each, so today's (2026-11-27) total demand is 24 CPUs, 24Gi, 200Gi.

The ledger the service holds (SQLite, opened once by the test as ``serve`` opens it) gets one
``plan-recorded`` event a day for the 60 days before today, as ``forecast --record`` writes them:
- cpu on day ``today − k`` is ``24 − k``: a straight line of slope 1 a day through today's 24, so
  the fitted trend is exact (no residuals, every pairwise slope 1: the interval is one day) and it
  first reaches 100 on ``today + 76`` = 2027-02-11 (24 + 75 = 99 on the day before), by hand;
- ssd-standard stays at 200Gi: flat, never reaching 1Ti within the horizon;
- memory and bandwidth are not in the events: one point (today's), too little history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dctenant.domain import audit_events
from dctenant.errors import BackendError
from tests.unit.api.test_portal import World, csrf, logged_in

TODAY = dt.date(2026, 11, 27)
GI = 2**30


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path)
    for k in range(1, 61):
        day = TODAY - dt.timedelta(days=k)
        built.ledger.append(kind=audit_events.PLAN_RECORDED, actor="test", subject={"pool": "lab",
                                                                                   "asOf": day.isoformat()},
                            after={"cpu": {"demand": str(24 - k), "allocatable": "100"},
                                   "storage/ssd-standard": {"demand": str(200 * GI), "allocatable": str(1024 * GI)}})
    yield built
    built.close()


def row(page: str, key: str) -> str:
    found = re.search(rf'<tr id="runway-lab-{re.escape(key)}">(.*?)</tr>', page, re.S)
    assert found, f"no runway row for {key}"
    return re.sub(r"<[^>]+>", " ", found[1])


def words(text: str) -> list[str]:
    return text.split()


def test_the_staff_page_shows_each_resources_runway_in_words(world: World) -> None:
    page = logged_in(world, world.token()).get("/portal/staff").text
    cpu = words(row(page, "cpu"))
    # Demand today, allocatable, the day, the interval (one day: an exact line), 61 daily points.
    assert cpu == ["cpu", "24", "100", "2027-02-11", "2027-02-11", "–", "2027-02-11", "61"]
    assert words(row(page, "storage/ssd-standard")) == [
        "storage/ssd-standard", "200Gi", "1Ti", "not", "within", "the", "horizon", "of", "365", "days", "61"]
    assert " ".join(words(row(page, "memory"))) == (
        "memory 24Gi 100Gi too little history: 1 daily point(s); a forecast needs at least 14 1")
    for key in ("bandwidth/egress", "bandwidth/ingress"):
        assert "too little history: 1 daily point(s)" in " ".join(words(row(page, key)))
    assert "Runway is unknown" not in page


def test_a_ledger_that_cannot_be_read_leaves_the_runway_unknown(world: World) -> None:
    client = logged_in(world, world.token())  # logging in writes to the ledger; reading it then fails

    def broken(**_: object) -> Iterator[audit_events.LedgerEvent]:
        raise BackendError("the ledger database is unreachable")

    world.ledger.events = broken  # type: ignore[method-assign]
    page = client.get("/portal/staff").text
    assert "Runway is unknown: the ledger could not be read." in page
    assert "the ledger database is unreachable" in page
    assert 'id="runway-lab-cpu"' not in page and "not within the horizon" not in page
    assert re.search(r"<th scope=\"row\"><bdi class=\"mono\">cpu</bdi></th><td class=\"num\">100</td>", page)


def test_persian_jalali_rendering_of_the_runway(world: World) -> None:
    token = world.token()
    client = logged_in(world, token)
    saved = client.post("/portal/prefs", data={"csrf": csrf(client, "/portal/staff"), "lang": "fa",
                                               "calendar": "jalali", "digits": "on", "next": "/portal/staff"})
    assert saved.status_code == 303
    page = client.get("/portal/staff").text
    assert '<html lang="fa" dir="rtl">' in page
    # 2027-02-11 is 22 Bahman 1405: Azar has 30 days (6 Azar = 2026-11-27, so 30 Azar = 21 December),
    # Dey 30 more (1 Bahman = 21 January 2027), and 11 February is 21 days after that, by hand.
    cpu = words(row(page, "cpu"))
    assert cpu[3:7] == ["۱۴۰۵/۱۱/۲۲", "۱۴۰۵/۱۱/۲۲", "–", "۱۴۰۵/۱۱/۲۲"] and cpu[-1] == "۶۱"
    assert "سابقه‌ی ناکافی: ۱ نقطه‌ی روزانه؛ پیش‌بینی دست‌کم ۱۴ نقطه لازم دارد" in row(page, "memory")
    assert "نه در افق ۳۶۵ روزه" in row(page, "storage/ssd-standard")
