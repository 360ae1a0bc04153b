"""The PromQL of a cycle: scoped to its pools' cluster label, the egress source of quotas/, and the
Kubernetes semantics the queries encode (checked as text here; tests/integration/test_enforce.py runs them)."""

from __future__ import annotations

import re

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
