"""Who holds the apply lease, and whether that holder is provably dead (issue 21)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from dctenant.clients import kube
from dctenant.errors import UserError


def test_this_process_identity_names_user_host_pid_and_pid_namespace() -> None:
    me = kube.Holder.parse(kube.identity())
    assert me.pid == os.getpid() and me.here()
    assert me.pidns == os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    assert not me.dead()


def test_a_process_that_exited_on_this_host_is_dead_and_a_live_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its PID no longer exists
    gone = kube.Holder.parse(kube.identity().replace(f"(pid {os.getpid()},", f"(pid {child.pid},"))
    assert gone.here() and gone.dead()
    parent = kube.Holder.parse(kube.identity().replace(f"(pid {os.getpid()},", f"(pid {os.getppid()},"))
    assert parent.here() and not parent.dead()


def test_a_zombie_counts_as_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        zombie = kube.Holder.parse(kube.identity().replace(f"(pid {os.getpid()},", f"(pid {child.pid},"))
        assert zombie.dead()
    finally:
        child.wait()


def test_holders_elsewhere_or_unparsable_are_never_judged_dead() -> None:
    elsewhere = kube.Holder.parse("bob@far-away-host (pid 1, pidns 4026531836)")
    assert elsewhere.host == "far-away-host" and elsewhere.pid == 1 and not elsewhere.here() and not elsewhere.dead()
    other_container = kube.Holder.parse(kube.identity().rsplit("pidns", 1)[0] + "pidns 1)")
    assert not other_container.here() and not other_container.dead()  # same host name, other PID namespace
    old_style = kube.Holder.parse(f"alice@{os.uname().nodename} (pid 999999)")  # no PID namespace recorded
    assert old_style.pid == 999999 and not old_style.dead()
    assert kube.Holder.parse("someone").pid is None


def test_a_staff_kind_is_known_or_group_version_plural() -> None:
    assert kube.extra_kind("Job") is kube.JOB
    secrets = kube.extra_kind("v1/secrets")
    assert secrets.path(namespace="a") == "/api/v1/namespaces/a/secrets"
    clusters = kube.extra_kind("postgresql.cnpg.io/v1/clusters")
    assert clusters.path(namespace="a") == "/apis/postgresql.cnpg.io/v1/namespaces/a/clusters"
    for bad in ("Secretz", "a/b/c/d"):
        with pytest.raises(UserError, match="unknown kind") as raised:
            kube.extra_kind(bad)
        assert raised.value.location == "--content-kind"


class FakeLeaseApi(kube.Cluster):
    """Just the lease, with resourceVersion and compare-and-swap, as the API server keeps it."""

    def __init__(self) -> None:
        super().__init__(api=None, context="ctx-1", server="http://127.0.0.1:1")
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.puts = 0

    def call(self, method: str, path: str, *, query: Any = None, body: Any = None,
             content_type: str = "application/json") -> dict[str, Any]:
        if method == "GET":
            if self.lease is None:
                raise kube.ApiError("not found", status=404)
            return json.loads(json.dumps(self.lease))
        wanted = str((body.get("metadata") or {}).get("resourceVersion") or "")
        if method == "PUT":
            self.puts += 1
            if self.lease is None or wanted != self.lease["metadata"]["resourceVersion"]:
                raise kube.ApiError("conflict", status=409)
        elif self.lease is not None:  # POST
            raise kube.ApiError("exists", status=409)
        self.version += 1
        stored = json.loads(json.dumps(body))
        self.lease = {**stored, "metadata": {**stored["metadata"], "resourceVersion": str(self.version)}}
        return json.loads(json.dumps(self.lease))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> kube.Clock:
        return kube.Clock(monotonic=lambda: self.now,
                          wall=lambda: dt.datetime(2026, 11, 29, tzinfo=dt.UTC) + dt.timedelta(seconds=self.now))


def held() -> tuple[FakeLeaseApi, Clock, kube.Lease]:
    api, clock = FakeLeaseApi(), Clock()
    lease = kube.Lease(api, namespace="sys", name="dctenant-apply", holder="a@h (pid 1, pidns 1)", clock=clock.clock())
    lease.acquire()
    return api, clock, lease


def test_the_lease_is_renewed_exactly_when_a_third_has_passed() -> None:
    api, clock, lease = held()
    clock.now += kube.RENEW_AFTER - 0.001
    lease.ensure()
    assert api.puts == 0
    clock.now += 0.001
    lease.ensure()
    assert api.puts == 1 and lease.remaining() == kube.LEASE_SECONDS


def test_a_write_needs_more_than_the_safe_margin_left() -> None:
    assert kube.SAFE_MARGIN == 70.0  # 5 s connect + 60 s read timeout + 5 s skew
    api, clock, lease = held()
    # A renewal that itself took until exactly the margin was left: not enough for a write.
    slow = {"done": False}
    original = api.call

    def slow_put(method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer = original(method, path, **kw)
        if method == "PUT" and not slow["done"]:
            slow["done"] = True
            clock.now += kube.LEASE_SECONDS - kube.SAFE_MARGIN  # the PUT took 50 s
        return answer

    api.call = slow_put  # type: ignore[method-assign]
    clock.now += kube.RENEW_AFTER
    with pytest.raises(kube.LeaseLostError, match="renewing took too long"):
        lease.ensure()
    assert lease.lost


def test_one_hair_more_than_the_margin_is_enough() -> None:
    api, clock, lease = held()
    original = api.call

    def slow_put(method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer = original(method, path, **kw)
        if method == "PUT":
            clock.now += kube.LEASE_SECONDS - kube.SAFE_MARGIN - 0.001
        return answer

    api.call = slow_put  # type: ignore[method-assign]
    clock.now += kube.RENEW_AFTER
    lease.ensure()
    assert not lease.lost


def test_a_lease_taken_over_while_paused_fails_the_renewal_and_stays_lost() -> None:
    api, clock, lease = held()
    assert api.lease is not None
    api.lease["metadata"]["resourceVersion"] = "99"  # another apply took it over meanwhile
    api.lease["spec"]["holderIdentity"] = "b@elsewhere (pid 2, pidns 2)"
    clock.now += 200  # the pause
    with pytest.raises(kube.LeaseLostError, match=r"now held by b@elsewhere"):
        lease.ensure()
    puts = api.puts
    with pytest.raises(kube.LeaseLostError):
        lease.ensure()
    lease.release()
    assert api.puts == puts  # once lost: no renewal, no release, nothing sent
    assert api.lease["spec"]["holderIdentity"] == "b@elsewhere (pid 2, pidns 2)"


def test_expiry_is_judged_at_its_boundary() -> None:
    api, clock, _ = held()
    assert api.lease is not None
    other = kube.Lease(api, namespace="sys", name="dctenant-apply", holder="b@elsewhere (pid 2, pidns 2)",
                       clock=clock.clock())
    clock.now += kube.LEASE_SECONDS - 0.001  # wall clock: renewTime + 120 s is still ahead
    with pytest.raises(kube.LeaseHeldError, match="--break-lease"):
        other.acquire()
    clock.now += 0.001  # exactly at renewTime + 120 s: expired
    other.acquire()
    assert other.takeover is not None and other.takeover.why == "expired"
    assert other.takeover.previous == "a@h (pid 1, pidns 1)"
