"""``dctenant plan`` on the shipped example: tables, JSON, explanations, exit codes."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from decimal import Decimal

from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.domain import resources
from dctenant.loaders import loading

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "quotas")
AT = "2026-11-27"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_plan_json_is_feasible_and_complete() -> None:
    code, out, _ = invoke("plan", EXAMPLE, "--at", AT, "-o", "json")
    assert code == 0
    data = json.loads(out)
    model = loading.load(EXAMPLE)
    assert set(data["tenants"]) == {t.id for t in model.tenants}
    assert set(data["pools"]) == set(model.datacentre.pool_names)
    for pool_name, lines in data["pools"].items():
        for key, line in lines.items():
            assert Decimal(line["allocated"]) <= Decimal(line["allocatable"]), (pool_name, key)
            assert Decimal(line["free"]) == Decimal(line["allocatable"]) - Decimal(line["allocated"])
            total = sum(Decimal(t["pools"][pool_name]["envelope"].get(key, "0"))
                        for t in data["tenants"].values() if pool_name in t["pools"])
            assert total == Decimal(line["allocated"])
    states = {tid: t["state"] for tid, t in data["tenants"].items()}
    assert set(states.values()) == {"allocated", "grace", "suspended"}
    # The example over-subscribes at least two resources: each is saturated and someone is short.
    limited = {p["limitedBy"] for t in data["tenants"].values() for p in t["pools"].values()}
    assert len(limited & {resources.GPU, resources.EGRESS, resources.INGRESS, resources.CPU, resources.MEMORY}
               | {x for x in limited if x.startswith("storage/")}) >= 2


def test_plan_table_names_pools_and_saturated_resources() -> None:
    code, out, err = invoke("plan", EXAMPLE, "--at", AT)
    assert code == 0
    for pool in loading.load(EXAMPLE).datacentre.pool_names:
        assert f"Pool {pool}" in out
    assert "(saturated)" in out
    assert "warning:" in err


def test_explain_names_the_bottleneck_and_who_shares_it() -> None:
    code, out, _ = invoke("plan", EXAMPLE, "--at", AT, "-o", "json")
    data = json.loads(out)
    victim, pool = next((tid, p) for tid, t in data["tenants"].items() for p, s in t["pools"].items()
                        if s["limitedBy"] not in ("demand", "guarantee", "licence"))
    code, out, _ = invoke("plan", EXAMPLE, "--at", AT, "--explain", victim)
    assert code == 0
    text = " ".join(out.split())
    resource = data["tenants"][victim]["pools"][pool]["limitedBy"]
    assert f"In pool {pool}:" in text
    assert f"when {resource} saturated" in text
    assert "weight" in text and "tenants sharing that bottleneck" in text


def test_explain_unknown_tenant_suggests_a_name() -> None:
    proc = subprocess.run([sys.executable, "-m", "dctenant", "plan", EXAMPLE, "--at", AT, "--explain", "balee"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert 'unknown tenant "balee"' in proc.stderr and 'did you mean "bale"' in proc.stderr


def test_exit_code_three_when_someone_is_short() -> None:
    proc = subprocess.run([sys.executable, "-m", "dctenant", "plan", EXAMPLE, "--at", AT, "--exit-code", "-o", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["kind"] == "AllocationPlan"


def test_strict_refuses_guarantees_that_do_not_fit(tmp_path: pathlib.Path) -> None:
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "q")
    policy = tmp_path / "q" / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(re.sub(r"guaranteed: \d+%", "guaranteed: 100%", text), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "dctenant", "plan", str(tmp_path / "q"), "--at", AT, "--strict"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "tier guarantees do not fit" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "dctenant", "plan", str(tmp_path / "q"), "--at", AT, "-o", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert any("guarantees do not all fit" in w for w in json.loads(proc.stdout)["warnings"])
