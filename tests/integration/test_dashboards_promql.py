"""Every PromQL expression of every generated dashboard, run against a real Prometheus.

The Prometheus of the enforcement test (tests/integration/prometheus_harness.py) scrapes the
workload simulator running pool ``thr-ab`` of the example at half of every envelope, bale's egress
15% over it; it loads the pool's rendered recording and alert rules
(``render.prometheus_rules.rules`` with a 5 s rate window)
and the capacity records (``render.capacity_rules``) and evaluates them every second. The policy's
``sustainedFor`` is 0s, as in the enforcement test, so that the breach alert fires at once.

Template variables are replaced as Grafana would: ``$pool`` by the pool, ``$tenant`` by an example
tenant, ``$__range`` by one minute. Each expression must be accepted by Prometheus and, for the
example tenants, return data: an empty answer means a panel that shows nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml

from dctenant.clients import prometheus
from dctenant.loaders import loading
from dctenant.ops import dashboarding, planning
from dctenant.render import capacity_rules, grafana, prometheus_rules
from tests.integration import prometheus_harness, simulator

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
AT = "2026-11-27"
POOL = "thr-ab"
RATE_WINDOW = "5s"
TENANTS = ("bale", "eitaa")  # both use every resource of the pool, GPUs and the three storage classes included
OVER = {("bale", POOL, "bandwidth/egress"): Decimal("1.15")}
VARIABLES = {"$__range_s": "60", "$__range": "1m", "$__rate_interval": "1m", "$__interval": "15s", "$pool": POOL}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("dashboards") / "quotas"
    shutil.copytree(ROOT / "quotas", root)
    policy = root / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    assert text.count("sustainedFor: 10m") == 1
    policy.write_text(text.replace("sustainedFor: 10m", "sustainedFor: 0s"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def prom(example: pathlib.Path) -> Iterator[prometheus_harness.Prometheus]:
    model = loading.load(example)
    allocation = planning.allocate(model, at=dt.date.fromisoformat(AT))
    # The enforcer's queries with a 5 s rate window (as in the enforcement test): over the default
    # 5 m, rate() of counters a few seconds old reads far below the simulated rates.
    # Scoped as `dctenant render` scopes them: every selector filters by the pool's cluster label, which
    # the harness puts on every scraped series (as a shared endpoint shows each cluster's external label).
    settings = prometheus.Settings(url="", rate_window=RATE_WINDOW)
    where = prometheus.scope(settings, model.datacentre, [POOL])
    assert where.matcher == f',cluster="{prometheus_harness.CLUSTER}"'
    groups = prometheus_rules.rules(model, allocation, pool=POOL, queries=prometheus.queries(settings, where),
                                    sources=prometheus.sources(settings, where))
    assert capacity_rules.group(model.datacentre.pool(POOL)) in groups["groups"]
    sim = simulator.Simulator(simulator.loads_for(model, allocation, pools=[POOL], overrides=OVER)).start()
    server = prometheus_harness.Prometheus(sim.address)
    (server.directory / "rules.yaml").write_text(yaml.safe_dump(groups), encoding="utf-8")
    config = yaml.safe_load((server.directory / "prometheus.yml").read_text(encoding="utf-8"))
    config["rule_files"] = [str(server.directory / "rules.yaml")]
    (server.directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    server.start()
    try:
        server.wait_until("up == 1", count=3)
        # The recording rules need two samples in their rate window, and the alerts one evaluation more.
        server.wait_until(f'{prometheus_rules.USAGE}{{resource="bandwidth/egress",tenant="bale"}}', timeout=30)
        server.wait_until('ALERTS{alertname="DctenantBandwidthOverEnvelope",alertstate="firing",tenant="bale"}',
                          timeout=60)
        time.sleep(2)  # one more evaluation, so that range queries over the last seconds see two points
        yield server
    finally:
        server.cleanup()
        sim.stop()


@pytest.fixture(scope="module")
def boards(example: pathlib.Path) -> dict[str, grafana.Dashboard]:
    return {name: json.loads(text) for name, text in dashboarding.texts(loading.load(example)).items()}


def substitute(expr: str, tenant: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    expr = expr.replace("$tenant", tenant)
    assert "$" not in expr.replace('"$1"', ""), expr
    return expr


def cases() -> list[tuple[str, str]]:
    model = loading.load(ROOT / "quotas")
    return [(name, title) for name, text in sorted(dashboarding.texts(model).items())
            for title, _expr in grafana.expressions(json.loads(text))]


def run(prom: prometheus_harness.Prometheus, promql: str) -> list[dict[str, Any]]:
    """Evaluate as Grafana does: a range query over the last 30 s at a 1 s step.

    A variable's ``label_values(SELECTOR, LABEL)`` is Grafana's, not PromQL: Grafana asks for the
    series of SELECTOR and offers their LABEL values, so the selector is run and each answer must
    carry the label.
    """
    values = re.fullmatch(r"label_values\((.+), (\w+)\)", promql)
    now = time.time()
    answer = _range(prom, values.group(1) if values else promql, start=now - 30, end=now)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    if values:
        assert all(values.group(2) in r["metric"] for r in result), result
    return result


def _range(prom: prometheus_harness.Prometheus, promql: str, *, start: float, end: float) -> dict[str, Any]:
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{prom.url}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "1"})
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            data: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"Prometheus refused {promql}: {exc.read().decode()[:500]}") from None
    return data


def test_every_expression_is_covered() -> None:
    found = cases()
    assert len(found) > 60
    assert all(not re.search(r"\bkube_|\bcontainer_", expr) or "kube_resourcequota" in expr
               for name, text in dashboarding.texts(loading.load(ROOT / "quotas")).items()
               for _title, expr in grafana.expressions(json.loads(text)))


@pytest.mark.parametrize("tenant", TENANTS)
def test_every_panel_expression_answers_with_data(prom: prometheus_harness.Prometheus,
                                                  boards: dict[str, grafana.Dashboard], tenant: str) -> None:
    empty: list[str] = []
    for name, board in sorted(boards.items()):
        for title, expr in grafana.expressions(board):
            if name != "tenant.json" and "$tenant" in expr:
                pytest.fail(f"{name} {title}: a staff dashboard must not depend on a tenant")
            if not run(prom, substitute(expr, tenant)):
                empty.append(f"{name} / {title}: {expr}")
    # bale is breaching (egress 15% over, a firing alert); eitaa is within its envelope, so its
    # alert panels are rightly empty: every other expression must answer for both.
    allowed = {e for e in empty if tenant != "bale" and "ALERTS{" in e and "$tenant" in e}
    assert sorted(set(empty) - allowed) == []


def test_values_are_the_simulated_ones(prom: prometheus_harness.Prometheus) -> None:
    """Spot checks that the panels show the right numbers, not merely some: bale's egress is 1.15 of its envelope."""
    ratio = f'{prometheus_rules.RATIO}{{tenant="bale",pool="{POOL}",resource="bandwidth/egress"}}'
    (row,) = prom.query(ratio)["data"]["result"]
    assert 1.12 < float(row["value"][1]) < 1.18
    capacity = prom.query(f'sum({capacity_rules.CAPACITY}{{pool="{POOL}",resource="cpu"}})')["data"]["result"]
    assert float(capacity[0]["value"][1]) == 16000
    states = prom.query(substitute(grafana._alerts(f',pool=~"{POOL}"'), "bale"))["data"]["result"]
    by_tenant = {(r["metric"].get("tenant"), r["metric"]["enforcement"]) for r in states}
    assert ("bale", "breaching") in by_tenant
    assert ("chapar", "suspended") in by_tenant  # licence revoked


def test_reclaim_and_runway_panels_show_the_simulated_figures(prom: prometheus_harness.Prometheus,
                                                              boards: dict[str, grafana.Dashboard]) -> None:
    """The simulator runs every tenant at half of its envelope: reclaim's idle share is 1 − 0.5 = 0.5 for cpu
    (p95 of a flat rate) and 1 − 0.5 × 1.15 = 0.425 for memory (peak + 15 %); a flat usage projects flat, so the
    runway's 30-day projection equals the share now."""
    panels = {p["title"]: p for p in boards["capacity.json"]["panels"]}
    assert panels["Runway: $pool"]["repeat"] == "pool"

    def answer(expr: str) -> dict[tuple[str, ...], float]:
        rows = prom.query(substitute(expr, "eitaa"))["data"]["result"]
        return {tuple(r["metric"].get(k, "") for k in ("tenant", "resource")): float(r["value"][1]) for r in rows}

    idle, need = (answer(t["expr"]) for t in panels["Reclaim: idle share of envelope"]["targets"])
    assert 0.45 < idle["eitaa", "cpu"] < 0.55 and 0.45 < need["eitaa", "cpu"] < 0.55
    assert 0.40 < idle["eitaa", "memory"] < 0.45 and 0.55 < need["eitaa", "memory"] < 0.60
    assert idle["bale", "bandwidth/egress"] == 0 and need["bale", "bandwidth/egress"] > 1.1  # over: none idle
    now, ahead = (answer(t["expr"]) for t in panels["Runway: $pool"]["targets"])
    assert now["", "memory"] > 0 and abs(ahead["", "memory"] - now["", "memory"]) < 0.02 * now["", "memory"]
