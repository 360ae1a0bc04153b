"""The example's cluster label, as docs/enforcement.md tells a site to set it up, gives real readings.

The example ``quotas/datacentre.yaml`` selects on ``cluster``. The docs' scrape rule adds that label
to every series of a pool; it must be valid Prometheus configuration (``promtool check config``) and
the very rule the tests' Prometheus uses (``prometheus_harness``), with which ``test_enforce.py``
reads the example's pool. Without the rule, the example reads unknown — never zero — and says why;
with ``clusterLabel: ""`` (one Prometheus per pool) the same series read as real values.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from dctenant.clients import prometheus
from dctenant.domain import usage
from dctenant.loaders import loading
from dctenant.ops import enforcing, planning
from tests.integration import prometheus_harness, simulator

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
POOL = "thr-ab"
AT = dt.date(2026, 11, 27)


def documented_rule() -> dict[str, object]:
    """The first YAML block of the docs' "Labelling each pool's series": a prometheus.yml snippet."""
    text = (ROOT / "docs" / "enforcement.md").read_text(encoding="utf-8")
    section = text.split("#### Labelling each pool's series", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    config: dict[str, object] = yaml.safe_load(block.group(1))
    return config


def test_the_documented_scrape_rule_is_valid_and_is_the_tests_rule(tmp_path: pathlib.Path) -> None:
    config = documented_rule()
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    checked = subprocess.run([prometheus_harness.PROMTOOL, "check", "config", str(path)], capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (rule,) = config["scrape_configs"][0]["relabel_configs"]  # type: ignore[index]
    assert rule == {"target_label": "cluster", "replacement": POOL}
    harness = prometheus_harness.config({POOL: "127.0.0.1:1"})
    for job in harness["scrape_configs"]:
        assert rule in job["relabel_configs"], job["job_name"]


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pathlib.Path, str]]:
    """The example's pool scraped by a Prometheus without the rule: no series carries ``cluster``."""
    root = tmp_path_factory.mktemp("cluster-label") / "quotas"
    shutil.copytree(ROOT / "quotas", root)
    model = loading.load(root)
    sim = simulator.Simulator(simulator.loads_for(model, planning.allocate(model, at=AT), pools=[POOL])).start()
    prom = prometheus_harness.Prometheus({"": sim.address}).start()
    try:
        prom.wait_until("up == 1", count=3)
        prom.wait_until('count_over_time(up{job="kube-state-metrics"}[10s]) >= 7', timeout=30)
        yield root, prom.url
    finally:
        prom.cleanup()
        sim.stop()


def cycle(root: pathlib.Path, url: str) -> enforcing.Cycle:
    enforcer = enforcing.Enforcer(path=str(root), settings=prometheus.settings(url, rate_window="5s"),
                                  pools=(POOL,))
    try:
        return enforcer.cycle(now=dt.datetime.now(dt.UTC), at=AT)
    finally:
        enforcer.close()


def measured(result: enforcing.Cycle) -> list[usage.Decision]:
    served = [d for d in result.decisions if d.resource != usage.LICENCE and d.state is not usage.State.SUSPENDED]
    assert len(served) > 20  # every served tenant's resources in the pool
    return served


def test_without_the_label_the_example_reads_unknown_and_says_why(unlabelled: tuple[pathlib.Path, str]) -> None:
    root, url = unlabelled
    result = cycle(root, url)
    assert all(d.state is usage.State.UNKNOWN for d in measured(result))
    assert f"cadvisor has no scrape target in cluster {POOL}" in result.missing


def test_with_no_cluster_label_the_same_series_read_as_real_values(unlabelled: tuple[pathlib.Path, str]) -> None:
    root, url = unlabelled
    single = root.parent / "single"
    shutil.copytree(root, single)
    datacentre = single / "datacentre.yaml"
    text = datacentre.read_text(encoding="utf-8")
    assert text.count("\n  pools:\n") == 1 and "\n  prometheus:" not in text
    datacentre.write_text(text.replace("\n  pools:\n", '\n  prometheus: {clusterLabel: ""}\n  pools:\n'),
                          encoding="utf-8")
    result = cycle(single, url)
    assert result.missing == ()
    decisions = measured(result)
    assert all(d.state in (usage.State.OK, usage.State.WARNING) and d.usage is not None for d in decisions)
    assert any(d.usage for d in decisions)  # real readings, not an empty Prometheus
