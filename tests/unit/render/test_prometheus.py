"""Prometheus rules: rendered deterministically, accepted by ``promtool check rules``, and proven by
``promtool test rules`` (tests/promtool/) with firing and non-firing cases.

promtool is Debian's ``prometheus`` package (2.42), installed in CI; its tests start at the Unix
epoch, so the rules under test are rendered from tests/promtool/quotas/ as of 1970-01-01.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
import subprocess

import pytest
import yaml

from dctenant.clients import prometheus
from dctenant.loaders import loading
from dctenant.ops import planning, rendering
from dctenant.render import prometheus_rules

pytestmark = pytest.mark.integration
ROOT = pathlib.Path(__file__).resolve().parents[3]
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
DATA = ROOT / "tests" / "promtool"


def rules_for(path: pathlib.Path, at: str, pool: str) -> dict[str, object]:
    model = loading.load(path)
    allocation = planning.allocate(model, at=dt.date.fromisoformat(at))
    settings = prometheus.Settings(url="")
    where = prometheus.scope(settings, model.datacentre, [pool])
    return prometheus_rules.rules(model, allocation, pool=pool, queries=prometheus.queries(settings, where),
                                  sources=prometheus.sources(settings, where))


def promtool(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_unit_tests_pass(tmp_path: pathlib.Path) -> None:
    rules = rules_for(DATA / "quotas", "1970-01-01", "p1")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    test = (DATA / "enforcement.test.yaml").read_text(encoding="utf-8").replace("RULES_FILE", "rules.yaml")
    (tmp_path / "enforcement.test.yaml").write_text(test, encoding="utf-8")
    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "enforcement.test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rendered_example_rules_pass_promtool_check(tmp_path: pathlib.Path) -> None:
    """What ``dctenant render`` writes for every pool of the example: both files, valid for promtool."""
    out = tmp_path / "out"
    rendering.render(str(ROOT / "quotas"), at=dt.date(2026, 11, 27), out=str(out))
    for pool in ("thr-ab", "thr-pd", "isf-1", "mhd-1"):
        plain = out / pool / prometheus_rules.RULES_FILE
        checked = promtool("check", "rules", str(plain), cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        (obj,) = yaml.safe_load_all((out / pool / prometheus_rules.RULE_OBJECT_FILE).read_text(encoding="utf-8"))
        assert obj["kind"] == "PrometheusRule" and obj["metadata"]["namespace"] == "monitoring"
        assert obj["spec"] == yaml.safe_load(plain.read_text(encoding="utf-8"))


def test_rules_are_deterministic_and_name_every_tenant_namespace() -> None:
    first = rules_for(ROOT / "quotas", "2026-11-27", "thr-ab")
    assert first == rules_for(ROOT / "quotas", "2026-11-27", "thr-ab")
    records = first["groups"][0]["rules"]  # type: ignore[index]
    info = {r["labels"]["namespace"] for r in records if r["record"] == prometheus_rules.INFO}
    assert "bale-media" in info and "wispi-media" not in info  # only this pool's namespaces
    envelope = {(r["labels"]["tenant"], r["labels"]["resource"]): r["expr"] for r in records
                if r["record"] == prometheus_rules.ENVELOPE}
    assert envelope["gap", "cpu"] == "vector(0)"  # not served: a zero envelope
