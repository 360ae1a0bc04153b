"""``dctenant reclaim`` against a real Prometheus holding 14 days of history with known statistics.

Bale's two namespaces in thr-ab each spike at a different time (1000 → 3000 cores for 3 % of the
window, and 500 → 3000 for another 3 %), so the tenant's total is 1500 cores for 94 % of the time
and 3500 for 6 %: its p95 is 3500, while summing the namespaces' own p95s would give 1500. Memory:
4Ti and 2Ti, with a 10-minute peak of 6Ti in the first, so the tenant's peak is 8Ti and its need
8Ti × 1.15 rounded up to a MiB. Eitaa has data for only the last 7 days: coverage ½, no proposal.
The shipped example's namespace quotas hold bale's envelope (a demand may not go below them), so
the proposals are checked on a copy where bale's thr-ab namespaces ask for less.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil
import time
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal

import pytest
import yaml
from click.testing import CliRunner

from dctenant.cli import main as cli
from dctenant.domain import reclaim
from dctenant.ops import planning, reclaim_planning
from tests.conftest import EXAMPLE
from tests.integration import backfill

pytestmark = pytest.mark.integration

DAY = 86400
WINDOW = 14 * DAY
TI = 2**40
CAD = 'job="kubelet",metrics_path="/metrics/cadvisor"'


def cpu_series(ns: str, start: int, end: int, base: float, spike: float, spike_from: int, spike_to: int
               ) -> tuple[str, list[tuple[int, float]]]:
    total, out = 0.0, []
    for t in range(start, end, 120):
        rate = spike if spike_from <= t < spike_to else base
        total += rate * 120
        out.append((t, total))
    return f'{CAD},namespace="{ns}",pod="{ns}-0",container="app",image="app:1"', out


def memory_series(ns: str, start: int, end: int, level: float, peak: float, peak_from: int
                  ) -> tuple[str, list[tuple[int, float]]]:
    samples = [(t, peak if peak_from <= t < peak_from + 600 else level) for t in range(start, end, 120)]
    return f'{CAD},namespace="{ns}",pod="{ns}-0",container="app",image="app:1"', samples


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[str, dt.datetime]]:
    end = int(time.time()) // 3600 * 3600 - 4 * 3600  # older than the head block: promtool writes blocks
    start = end - WINDOW - 3600
    three = int(WINDOW * 0.03)
    w0 = end - WINDOW
    families = {
        "container_cpu_usage_seconds_total": ("counter", [
            cpu_series("bale-messaging", start, end, 1000, 3000, w0 + 2 * DAY, w0 + 2 * DAY + three),
            cpu_series("bale-media", start, end, 500, 3000, w0 + 6 * DAY, w0 + 6 * DAY + three),
            cpu_series("eitaa-messaging", end - 7 * DAY, end, 10, 10, 0, 0),
        ]),
        "container_memory_working_set_bytes": ("gauge", [
            memory_series("bale-messaging", start, end, 4 * TI, 6 * TI, w0 + 3 * DAY),
            memory_series("bale-media", start, end, 2 * TI, 2 * TI, 0),
        ]),
    }
    prom = backfill.started(backfill.samples_openmetrics(families))
    try:
        prom.wait_until('container_cpu_usage_seconds_total @ ' + str(end - 60), count=3, timeout=60)
        yield prom.url, dt.datetime.fromtimestamp(end, dt.UTC)
    finally:
        prom.cleanup()


@pytest.fixture(scope="module")
def smaller(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The example with bale's thr-ab namespaces at 1000 + 500 cores and 2Ti + 1Ti of memory."""
    root = tmp_path_factory.mktemp("reclaim") / "quotas"
    shutil.copytree(EXAMPLE, root)
    path = root / "tenants" / "bale.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for ns in doc["spec"]["namespaces"]:
        if ns["name"] == "bale-messaging":
            ns["quota"].update(cpu="1000", memory="2Ti")
        if ns["name"] == "bale-media":
            ns["quota"].update(cpu="500", memory="1Ti")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return root


def rows(result: reclaim_planning.ReclaimResult) -> dict[tuple[str, str, str], reclaim.Row]:
    return {(r.tenant, r.pool, r.resource): r for r in result.rows}


def test_tenant_p95_is_of_its_total_and_memory_is_peak_plus_margin(history: tuple[str, dt.datetime],
                                                                    smaller: pathlib.Path) -> None:
    url, at = history
    result = reclaim_planning.reclaim_plan(str(smaller), url=url, at=at, method=reclaim.Method())
    found = rows(result)
    cpu = found["bale", "thr-ab", "cpu"]
    assert cpu.observed == Decimal(3500)
    assert cpu.need == Decimal(3500)
    memory = found["bale", "thr-ab", "memory"]
    assert memory.observed == Decimal(8 * TI)
    mi = Decimal(2**20)
    assert memory.need == (Decimal(8 * TI) * Decimal("1.15") / mi).to_integral_value(ROUND_CEILING) * mi
    assert cpu.coverage > Decimal("0.99") and memory.coverage == 1
    # At least 20 % of each envelope is idle and the namespaces' quotas (1500 cores, 3Ti) are lower: the
    # proposal is the demand at which bale's served fraction f gives exactly its need, need ÷ f rounded up.
    assert cpu.envelope - cpu.need >= Decimal("0.2") * cpu.envelope
    fraction = planning.plan(str(smaller), at=at.date()).allocation.tenants["bale"].shares["thr-ab"].fraction
    milli = Decimal("0.001")
    assert cpu.proposed == (cpu.need / fraction / milli).to_integral_value(ROUND_CEILING) * milli
    assert memory.proposed == (memory.need / fraction / mi).to_integral_value(ROUND_CEILING) * mi


def test_namespace_quotas_are_the_floor_of_a_proposal(history: tuple[str, dt.datetime]) -> None:
    # In the shipped example bale's thr-ab namespaces ask for 3000 + 2000 cores and 10Ti + 6Ti: a demand
    # may not go below that (the loader refuses it), so that is what is proposed, above need ÷ f.
    url, at = history
    found = rows(reclaim_planning.reclaim_plan(str(EXAMPLE), url=url, at=at, method=reclaim.Method()))
    assert found["bale", "thr-ab", "cpu"].proposed == Decimal(5000)
    assert found["bale", "thr-ab", "memory"].proposed == Decimal(16 * TI)


def test_partial_history_is_said_and_never_proposed(history: tuple[str, dt.datetime]) -> None:
    url, at = history
    found = rows(reclaim_planning.reclaim_plan(str(EXAMPLE), url=url, at=at, method=reclaim.Method()))
    eitaa = found["eitaa", "thr-ab", "cpu"]
    assert Decimal("0.49") < eitaa.coverage < Decimal("0.51")
    assert eitaa.observed == Decimal(10) and eitaa.proposed is None and eitaa.held == "partial data"
    nothing = found["rubika", "thr-ab", "cpu"]
    assert (nothing.observed, nothing.need, nothing.idle, nothing.proposed) == (None, None, None, None)


def test_cli_json_changes_file_and_gains(history: tuple[str, dt.datetime], tmp_path: pathlib.Path,
                                         smaller: pathlib.Path) -> None:
    url, at = history
    changes = tmp_path / "proposal.yaml"
    result = CliRunner().invoke(cli.cli, ["reclaim", str(smaller), "--prometheus", url, "--at", at.isoformat(),
                                          "-o", "json", "--changes-out", str(changes)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_key = {(r["tenant"], r["pool"], r["resource"]): r for r in data["rows"]}
    assert by_key["rubika", "thr-ab", "cpu"]["need"] is None  # no data is null, not zero
    written = yaml.safe_load(changes.read_text())
    assert written["kind"] == "WhatIf"
    (bale,) = [c["setDemand"] for c in written["changes"] if c["setDemand"]["tenant"] == "bale"]
    proposed = by_key["bale", "thr-ab", "cpu"]["proposed"]
    assert bale["pool"] == "thr-ab" and Decimal(proposed) < Decimal(by_key["bale", "thr-ab", "cpu"]["demand"])
    # The gains are what plan --what-if on the written proposals says the others get.
    whatif = CliRunner().invoke(cli.cli, ["plan", str(smaller), "--at", at.date().isoformat(), "-o", "json",
                                          "--what-if", str(changes)], catch_exceptions=False)
    rows_after = json.loads(whatif.stdout)["envelopes"]
    expected = {(e["tenant"], e["pool"], e["resource"]): e["after"] for e in rows_after
                if e["tenant"] != "bale" and e["after"] is not None and e["before"] is not None
                and Decimal(e["after"]) > Decimal(e["before"])}
    assert {(g["tenant"], g["pool"], g["resource"]): g["after"] for g in data["gains"]} == expected
    # Bale's envelope falls to its need (3500 cores, within one unit), never below it.
    (cpu,) = [e for e in rows_after if (e["tenant"], e["pool"], e["resource"]) == ("bale", "thr-ab", "cpu")]
    assert Decimal(3500) - Decimal("0.001") <= Decimal(cpu["after"]) < Decimal(cpu["before"])
