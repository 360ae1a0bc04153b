"""The PromQL of a cycle: scoped to its pools' cluster label, the egress source of quotas/, and the
Kubernetes semantics the queries encode (checked as text here; tests/integration/test_enforce.py runs them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import re
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from dctenant.clients import prometheus
from dctenant.domain import pools
from dctenant.errors import UserError

SETTINGS = prometheus.Settings(url="")


def dc(*, label: str = "cluster", egress: str = "", clusters: tuple[str, ...] = ("", "")) -> pools.DataCentre:
    made = tuple(pools.Pool(name=name, site="s", context="c", capacity={}, cluster=cluster)
                 for name, cluster in zip(("p1", "p2"), clusters, strict=True))
    return pools.DataCentre(name="dc", display_name=pools.DisplayName(en="d", fa="d"), storage_classes=(),
                            pools=made, metrics=pools.Metrics(cluster_label=label, egress=egress))


def selectors(promql: str) -> list[str]:
    """Every series selector's matchers (``{...}`` after a metric name)."""
    return re.findall(r"[a-z_:]+\{([^}]*)\}", promql)


def test_every_selector_of_every_query_carries_the_pools_cluster() -> None:
    where = prometheus.scope(SETTINGS, dc(clusters=("", "tehran-ab")), ["p2"])
    assert where.matcher == ',cluster="tehran-ab"'
    for name, promql in prometheus.queries(SETTINGS, where).items():
        found = selectors(promql)
        assert found, name
        assert all('cluster="tehran-ab"' in s for s in found), (name, promql)
        assert "by (cluster, namespace" in promql or name == "up", name


def test_several_pools_share_one_query_set() -> None:
    where = prometheus.scope(SETTINGS, dc(), [])
    assert where.matcher == ',cluster=~"p1|p2"'
    assert where.cluster("p1") == "p1"


def test_no_cluster_label_means_no_filter() -> None:
    where = prometheus.scope(SETTINGS, dc(label=""), [])
    assert where.matcher == ""
    assert all("cluster" not in q for q in prometheus.queries(SETTINGS, where).values())


def test_sandbox_and_pod_cgroup_series_are_excluded() -> None:
    queries = prometheus.queries(SETTINGS)
    for name in ("cpu", "memory"):
        assert 'container!="",container!="POD",image!=""' in queries[name]


def test_presence_is_counted_per_namespace_not_listed_per_resource() -> None:
    assert prometheus.queries(SETTINGS)["quota"].startswith("count by (namespace) (kube_resourcequota{")


def test_an_external_egress_source_gets_the_cluster_matcher() -> None:
    where = prometheus.scope(SETTINGS, dc(egress='hubble_flows_bytes_total{destination="world"}'), ["p1"])
    egress = prometheus.queries(SETTINGS, where)["bandwidth/egress"]
    assert egress == ('8 * sum by (cluster, namespace) (rate(hubble_flows_bytes_total{destination="world",'
                      'cluster="p1"}[5m]))')
    bare = prometheus.scope(SETTINGS, dc(egress="gateway_tx_bytes_total"), ["p1"])
    assert "rate(gateway_tx_bytes_total{cluster=\"p1\"}[5m])" in prometheus.queries(SETTINGS, bare)["bandwidth/egress"]
    # Ingress stays cAdvisor's: only egress has another definition (traffic leaving the data centre).
    assert "container_network_receive_bytes_total" in prometheus.queries(SETTINGS, where)["bandwidth/ingress"]


def test_a_bad_step_is_refused_with_its_field() -> None:
    with pytest.raises(UserError, match="step '0s' is not a duration"):
        prometheus.settings("http://p", step="0s")
    assert prometheus.settings("http://p", step="30s").step_seconds == 30


def test_concurrency_is_a_whole_number_from_one_to_the_cycles_queries(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "metrics.yaml"
    for bad in ("0", "10", "2.5", "two"):
        config.write_text(f"concurrency: {bad}\n", encoding="utf-8")
        with pytest.raises(UserError, match=r"concurrency .* is not a whole number from 1 to 9") as caught:
            prometheus.settings("http://p", config=str(config))
        assert caught.value.location == f"{config} concurrency"
    for good in (1, 9):
        config.write_text(f"concurrency: {good}\n", encoding="utf-8")
        assert prometheus.settings("http://p", config=str(config)).concurrency == good
    assert prometheus.settings("http://p").concurrency == 1  # serial unless a site asks for more


class Slow:
    """A range asker that answers after a pause, noting how many queries were in flight at once."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]], *, slowest: str) -> None:
        self.answers, self.slowest, self.busy, self.most = answers, slowest, 0, 0
        self.lock = threading.Lock()

    def __call__(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        with self.lock:
            self.busy += 1
            self.most = max(self.most, self.busy)
        time.sleep(0.1 if promql == self.slowest else 0.01)  # answered last, though asked first
        with self.lock:
            self.busy -= 1
        return self.answers.get(promql, [])


def test_concurrent_queries_give_the_same_usage_as_serial_ones() -> None:
    """At most ``concurrency`` queries in flight, and the answers folded in CYCLE order: the same reasons win."""
    now = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    where = prometheus.scope(SETTINGS, dc(), ["p1"])
    text = prometheus.queries(SETTINGS, where)
    t = [now.timestamp() - 60, now.timestamp()]

    def rows(*found: tuple[dict[str, str], str]) -> list[dict[str, Any]]:
        return [{"metric": {"cluster": "p1", **labels}, "values": [[x, value] for x in t]} for labels, value in found]

    answers = {
        text["up"]: rows(({"source": "cadvisor"}, "1"), ({"source": "kubelet"}, "0"),
                         ({"source": "kube-state-metrics"}, "1")),
        text["quota"]: rows(({"namespace": "a-web"}, "1"), ({"namespace": "b-web"}, "1")),
        text["gaps"]: rows(({"namespace": "b-web", "gap": "cadvisor"}, "3")),
        text["cpu"]: rows(({"namespace": "a-web"}, "1.5"), ({"namespace": "b-web"}, "NaN")),
        text["storage"]: rows(({"namespace": "a-web", "storageclass": "ssd"}, "1024"),
                              ({"namespace": "b-web", "storageclass": ""}, "1024")),
    }
    series = {}
    for workers in (1, 4):
        slow = Slow(answers, slowest=text["up"])
        client = prometheus.Prometheus(dataclasses.replace(SETTINGS, concurrency=workers), ask_range=slow)
        series[workers] = client.history({"a-web": "p1", "b-web": "p1"}, where=where, now=now, window=60)
        assert slow.most == workers  # nine queries: the pool is filled
    assert series[1] == series[4]
    latest = series[4].latest
    assert latest.amount("a-web", "cpu") == Decimal("1.5")
    assert "cAdvisor has no container series" in latest.missing("b-web", "memory")
    assert latest.missing("b-web", "cpu") == "query cpu gave a value that is not a usable number for namespace b-web"
    # The exporter's health is folded first, so its reason wins over the classless claim found later.
    assert latest.missing("b-web", "storage/ssd") == "a kubelet scrape target in cluster p1 is down"
