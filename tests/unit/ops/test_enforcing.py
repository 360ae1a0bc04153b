"""``ops.enforcing.Enforcer`` with in-memory fakes: a Prometheus that answers from a table, a cluster that
records requests, and a ledger that records (or refuses) events. No network, no process.

The example's pool thr-ab with its own policy (sustainedFor 10m, recoveryWindow 15m, gracePeriod 30m):
igap's memory is at ``IGAP`` × its envelope at every point of the history the enforcer asks for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from dctenant.clients import kube, ledger_db, prometheus
from dctenant.errors import BackendError
from dctenant.loaders import loading
from dctenant.ops import enforcing, planning

ROOT = pathlib.Path(__file__).resolve().parents[3]
POOL = "thr-ab"
AT = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


class Endpoint:
    """Answers each of the cycle's range queries with constant values at every step asked for."""

    def __init__(self, *, igap: Decimal) -> None:
        model = loading.load(ROOT / "quotas")
        allocation = planning.allocate(model, at=AT)
        self.settings = prometheus.Settings(url="http://prometheus.invalid")
        where = prometheus.scope(self.settings, model.datacentre, [POOL])
        self.names = {text: name for name, text in prometheus.queries(self.settings, where).items()}
        spaces = [g.namespace for g in allocation.namespaces if g.pool == POOL]
        memory = allocation.tenants["igap"].shares[POOL].envelope["memory"] * igap
        cluster = {"cluster": POOL}
        self.rows: dict[str, list[tuple[Mapping[str, str], Decimal]]] = {
            "up": [({**cluster, "source": s}, Decimal(1)) for s in ("cadvisor", "kubelet", "kube-state-metrics")],
            "quota": [({**cluster, "namespace": ns}, Decimal(12)) for ns in spaces],
            "memory": [({**cluster, "namespace": "igap-messaging"}, memory)],
        }
        self.asked: list[tuple[str, float, float, float]] = []

    def __call__(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        self.asked.append((self.names[promql], start, end, step))
        times = [start + i * step for i in range(round((end - start) / step) + 1)]
        return [{"metric": dict(labels), "values": [[t, str(value)] for t in times]}
                for labels, value in self.rows.get(self.names[promql], [])]


class Recorder(kube.Cluster):
    """A cluster whose every request is logged and answered with an empty object."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        super().__init__(api=None, context="fake", server="fake")
        self.log = log

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Mapping[str, Any] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        self.log.append(("cluster", f"{method} {path}"))
        return {"items": []} if method == "GET" else {}

    def close(self) -> None:
        pass


class Journal:
    """A ledger that logs the kinds it is asked to append, or refuses every write."""

    def __init__(self, log: list[tuple[str, str]], *, broken: bool = False) -> None:
        self.log, self.broken = log, broken

    def append_many(self, drafts: Iterable[ledger_db.Draft]) -> tuple[()]:
        if self.broken:
            raise BackendError("the ledger's disk is full")
        self.log.extend(("ledger", d.kind) for d in drafts)
        return ()

    def close(self) -> None:
        pass


def enforcer(tmp_path: pathlib.Path, endpoint: Endpoint, log: list[tuple[str, str]], *, act: bool,
             broken: bool = False) -> enforcing.Enforcer:
    return enforcing.Enforcer(
        path=str(ROOT / "quotas"), settings=endpoint.settings, pools=(POOL,), act=act,
        state_path=tmp_path / "state.json", asker=endpoint, connect=lambda _context: Recorder(log),
        open_ledger=lambda: Journal(log, broken=broken))  # type: ignore[arg-type, return-value]


def igap(cycle: enforcing.Cycle) -> tuple[str, str]:
    d = next(d for d in cycle.decisions if (d.tenant, d.resource) == ("igap", "memory"))
    return d.state.value, d.action


def test_one_cycle_asks_the_history_of_the_longer_window_in_nine_range_queries(tmp_path: pathlib.Path) -> None:
    endpoint, log = Endpoint(igap=Decimal("1.2")), []
    cycle = enforcer(tmp_path, endpoint, log, act=False).cycle(now=NOW.replace(microsecond=500), at=AT)
    assert sorted(name for name, *_ in endpoint.asked) == sorted(prometheus.CYCLE)  # each once, in any order
    assert {(end - start, step) for _, start, end, step in endpoint.asked} == {(900.0, 60.0)}  # recoveryWindow 15m
    assert {end for _, _, end, _ in endpoint.asked} == {NOW.timestamp()}  # whole seconds
    assert cycle.queries == 9 and cycle.missing == ()
    assert igap(cycle) == ("breach", "notify")
    assert log == []  # a dry run touches no cluster and writes no ledger
    assert not (tmp_path / "state.json").exists()


def test_intent_is_recorded_before_any_action_and_the_outcome_after(tmp_path: pathlib.Path) -> None:
    endpoint, log = Endpoint(igap=Decimal("1.2")), []
    cycle = enforcer(tmp_path, endpoint, log, act=True).cycle(now=NOW, at=AT)
    assert igap(cycle) == ("breach", "notify")
    first_cluster = next(i for i, (who, _) in enumerate(log) if who == "cluster")
    intents = [i for i, entry in enumerate(log) if entry == ("ledger", enforcing.INTENDED)]
    # One intent per namespace of every action (igap's notice, the licences' notices and suspensions).
    assert len(intents) == len(cycle.actions) and max(intents) < first_cluster
    outcomes = [i for i, (who, kind) in enumerate(log) if who == "ledger" and kind in ("action-taken",
                                                                                      "action-undone")]
    assert len(outcomes) == len(cycle.actions) and min(outcomes) > max(i for i, (w, _) in enumerate(log)
                                                                      if w == "cluster")


def test_no_action_without_its_intent_event(tmp_path: pathlib.Path) -> None:
    """Fault injection: the ledger cannot be written, so nothing is done in any cluster and no state is saved."""
    endpoint, log = Endpoint(igap=Decimal("1.2")), []
    with pytest.raises(BackendError, match="disk is full"):
        enforcer(tmp_path, endpoint, log, act=True, broken=True).cycle(now=NOW, at=AT)
    assert log == []
    assert not (tmp_path / "state.json").exists()


def test_within_the_envelope_nothing_is_done(tmp_path: pathlib.Path) -> None:
    endpoint, log = Endpoint(igap=Decimal("0.5")), []
    cycle = enforcer(tmp_path, endpoint, log, act=True).cycle(now=NOW, at=AT)
    assert igap(cycle) == ("ok", "")
    assert not any(a.tenant == "igap" for a in cycle.actions)
    assert [e for e in log if e == ("ledger", enforcing.INTENDED)] == [("ledger", enforcing.INTENDED)] * len(
        cycle.actions)


def test_a_second_cycle_waits_a_grace_period_before_escalating(tmp_path: pathlib.Path) -> None:
    endpoint, log = Endpoint(igap=Decimal("1.2")), []
    run = enforcer(tmp_path, endpoint, log, act=True)
    assert igap(run.cycle(now=NOW, at=AT)) == ("breach", "notify")
    assert igap(run.cycle(now=NOW + dt.timedelta(minutes=29), at=AT)) == ("breach", "")
    fresh = enforcer(tmp_path, endpoint, log, act=False)  # a new process reading the saved state
    assert igap(fresh.cycle(now=NOW + dt.timedelta(minutes=30), at=AT)) == ("breach", "throttle")


def test_queries_sent_from_a_stale_first_read_are_dropped_and_asked_again(tmp_path: pathlib.Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The queries go out after reading datacentre.yaml and policy.yaml alone; should the full load find
    another scope or window (a file changed in between), the cycle asks again and judges with the new."""
    endpoint = Endpoint(igap=Decimal("1.2"))
    real = enforcing._outline

    def stale(path: str) -> Any:
        found = real(path)
        assert found is not None
        datacentre, policy = found
        return dataclasses.replace(datacentre, metrics=dataclasses.replace(datacentre.metrics, cluster_label="old")), \
            policy

    monkeypatch.setattr(enforcing, "_outline", stale)
    unknown: list[str] = []

    def answer(promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        if promql not in endpoint.names:  # a query of the stale scope
            unknown.append(promql)
            return []
        return endpoint(promql, start, end, step)

    made = enforcing.Enforcer(path=str(ROOT / "quotas"), settings=endpoint.settings, pools=(POOL,), state_path=tmp_path
                              / "state.json", asker=answer)
    cycle = made.cycle(now=NOW, at=AT)
    made.close()
    assert unknown and all('old="' in q for q in unknown)
    assert sorted(name for name, *_ in endpoint.asked) == sorted(prometheus.CYCLE)
    assert cycle.missing == () and igap(cycle) == ("breach", "notify")
