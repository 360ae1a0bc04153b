"""Failed authentications per client address: the API's 401s and the portal's failed logins count
together, and after the limit the address gets 429 with ``Retry-After`` until the window passes.

The counts and times are chosen by hand: limit 3 within a 60 s window on a clock the test moves.
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about httpx2 (see test_portal.py)
    from starlette.testclient import TestClient

from dctenant.api import lockout
from tests.unit.api import test_portal


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_is_reached_on_the_limit_th_failure_and_the_window_is_half_open() -> None:
    ticks = Ticks()
    failures = lockout.Lockout(limit=3, window=60, clock=ticks)
    failures.failed("a")
    ticks.now += 10
    failures.failed("a")
    assert failures.wait("a") == 0  # two of three
    ticks.now += 5
    failures.failed("a")  # the third, at 1015; the first was at 1000
    assert failures.wait("a") == 45  # until 1060, when the first leaves [t, t + 60)
    assert failures.wait("b") == 0  # another address is not affected
    ticks.now = 1059.5
    assert failures.wait("a") == 1  # rounded up, never 0 while blocked
    ticks.now = 1060.0
    assert failures.wait("a") == 0  # exactly at t + window the first no longer counts


def test_only_the_most_recent_addresses_are_kept() -> None:
    ticks = Ticks()
    failures = lockout.Lockout(limit=1, window=60, tracked=2, clock=ticks)
    for address in ("a", "b", "c"):
        failures.failed(address)
    assert failures.wait("a") == 0  # dropped: the stalest beyond two
    assert failures.wait("b") == 60 and failures.wait("c") == 60


class Locked(test_portal.World):
    """The portal's test data centre, with a lockout of 3 failures in 60 s on a clock the test moves."""

    def __init__(self, tmp: pathlib.Path) -> None:
        self.ticks = Ticks()
        super().__init__(tmp, failures=lockout.Lockout(limit=3, window=60, clock=self.ticks))


@pytest.fixture
def locked(tmp_path: pathlib.Path) -> Iterator[Locked]:
    built = Locked(tmp_path)
    yield built
    built.close()


def api(client: TestClient, token: str) -> int:
    return client.get("/v1/tenants/bale/namespaces", headers={"Authorization": f"Bearer {token}"}).status_code


def test_the_api_answers_429_after_three_bad_tokens_even_to_a_good_one(locked: Locked) -> None:
    good = locked.token(tenant="bale")
    client = locked.client()
    assert api(client, good) == 200
    assert [api(client, "dct_" + "x" * 43) for _ in range(3)] == [401, 401, 401]
    answer = client.get("/v1/tenants/bale/namespaces", headers={"Authorization": f"Bearer {good}"})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "60"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Too Many Requests"
    locked.ticks.now += 60
    assert api(client, good) == 200  # the window has passed


def test_a_success_does_not_reset_the_count(locked: Locked) -> None:
    good = locked.token(tenant="bale")
    client = locked.client()
    assert [api(client, t) for t in ("dct_bad", good, "dct_bad", good, "dct_bad", good)] == [401, 200, 401, 200,
                                                                                             401, 429]


def test_portal_logins_and_api_failures_count_together(locked: Locked) -> None:
    good = locked.token(tenant="bale")
    client = locked.client()
    assert [api(client, "dct_bad") for _ in range(2)] == [401, 401]
    assert test_portal.login(client, "dct_bad").status_code == 401  # the third failure
    refused = test_portal.login(client, good)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "Too many failed logins from this address. Try again in 60 s." in refused.text
    assert sessionless(client)
    locked.ticks.now += 60
    assert test_portal.login(client, good).status_code == 303


def sessionless(client: TestClient) -> bool:
    from dctenant.api.portal import sessions

    return sessions.COOKIE not in client.cookies
