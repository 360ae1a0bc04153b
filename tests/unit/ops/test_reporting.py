"""Reports from a fixed ledger and snapshot: golden CSV/JSON, filters, combining months, tampering."""

from __future__ import annotations

import csv
import io
import json
import pathlib
from collections.abc import Iterator

import pytest

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import periods
from dctenant.errors import UserError
from dctenant.ops import reporting
from dctenant.render.reports import cells
from tests import golden
from tests.unit.clients import chain_cases
from tests.unit.ops import reports_data

GOLDEN = reports_data.ROOT / "tests" / "data" / "golden" / "reports"
KINDS = ("allocation", "usage", "traffic", "violations", "licences")


@pytest.fixture
def ledger(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ledger_db.Ledger]:
    monkeypatch.chdir(reports_data.ROOT)
    opened = ledger_db.open_ledger(str(tmp_path / "ledger.db"))
    reports_data.fill(opened)
    yield opened
    opened.close()


def _stable(text: str, ledger: ledger_db.Ledger) -> str:
    return text.replace(ledger.url, "sqlite:///LEDGER")


def build(ledger: ledger_db.Ledger, kind: str, period: str = "2026-10", calendar: str = "gregorian",
          **kw: str) -> reporting.reports.Report:
    return reporting.build(kind, path="quotas", period=reporting.period(period, calendar=calendar),
                           now=reports_data.NOW, ledger=ledger, **kw)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", ["csv", "json"])
def test_golden(ledger: ledger_db.Ledger, kind: str, form: str) -> None:
    text = _stable(reporting.render(build(ledger, kind), output=form, style=cells.Style()), ledger)
    golden.check(GOLDEN / f"{kind}.{form}", text)


def test_json_carries_provenance(ledger: ledger_db.Ledger) -> None:
    data = json.loads(reporting.render(build(ledger, "usage"), output="json", style=cells.Style()))
    assert data["ledger"]["lastHash"] == ledger.last_hash() and data["ledger"]["lastSeq"] == 7
    assert data["generatedAt"] == "2026-11-27T09:30:00.000000Z"
    assert data["period"] == {"label": "2026-10", "calendar": "gregorian", "zone": "UTC",
                              "start": "2026-10-01T00:00:00.000000Z", "end": "2026-11-01T00:00:00.000000Z"}
    assert [s["name"] for s in data["sources"]] == ["quotas", "ledger", "snapshot 2026-10 v1", "checkpoint"]
    assert data["partial"] is False
    inputs = data["inputs"]
    assert inputs["ledgerSeq"] == 7 and inputs["quotas"] == "quotas" and inputs["zone"] == "UTC"
    assert [(s["id"], s["version"], s["ledgerEvent"]) for s in inputs["snapshots"]] == [(1, 1, 7)]
    assert data["names"]["bale"] == {"en": "Bale", "fa": "بله"}


def test_usage_figures_by_hand(ledger: ledger_db.Ledger) -> None:
    """bale is the first tenant of the fixture (level 0.3, over on days 10, 20, 30: (day + 0) % 10 == 0).

    In pool thr-pd bale asks 2000 cores (quotas/tenants/bale.yaml) and gets all of it (nobody
    else there is short), so by hand: average 0.3 × 2000 = 600, p95 0.4 × 2000 = 800,
    max 0.5 × 2000 = 1000, each day's maximum 0.9 × 2000 = 1800 ≤ 2000 except 1.05 × 2000 = 2100
    on three days; all 31 days have data and no coverage row means a complete old-style snapshot.
    """
    report = build(ledger, "usage")
    rows = {(r["tenant"], r["pool"], r["resource"]): r for r in report.section("usage").rows}
    bale = rows["bale", "thr-pd", "cpu"]
    assert (bale["envelope"], bale["average"], bale["p95"], bale["maximum"]) == ("2000", "600", "800", "1000")
    assert (bale["utilisation"], bale["daysOver"], bale["daysWithData"]) == ("0.3", 3, 31)
    assert (bale["coverage"], bale["status"]) == ("1", "complete")
    # Idle: every pool at 0.3 of its envelope, so 1 − 0.3 of the summed envelope is idle.
    idle = {(r["tenant"], r["resource"]): r for r in report.section("idle").rows}
    assert idle["bale", "cpu"]["idleShare"] == "0.7"


def test_traffic_by_hand(ledger: ledger_db.Ledger) -> None:
    """bale (n = 0) sends 3 × 10^13 B and receives 10^13 B in each of its three pools."""
    from decimal import Decimal

    rows = {r["tenant"]: r for r in build(ledger, "traffic").section("traffic").rows}
    assert (rows["bale"]["egressBytes"], rows["bale"]["ingressBytes"]) == ("90000000000000", "30000000000000")
    assert abs(sum(Decimal(r["egressShare"]) for r in rows.values()) - 1) < Decimal("0.00001")


def test_violations_durations(ledger: ledger_db.Ledger) -> None:
    rows = build(ledger, "violations").section("violations").rows
    taken = {r["tenant"]: r for r in rows if r["kind"] == "action-taken"}
    assert taken["rubika"]["durationSeconds"] == 2 * 3600 + 15 * 60 and not taken["rubika"]["ongoing"]
    # Still suspended at the end of October: counted to the period's end.
    assert taken["wispi"]["ongoing"] and taken["wispi"]["durationSeconds"] == 11 * 86400 + 23 * 3600 + 55 * 60


def test_tenant_filter(ledger: ledger_db.Ledger) -> None:
    report = build(ledger, "allocation", tenant="bale")
    assert {r["tenant"] for r in report.section("tenants").rows} == {"bale"}
    assert len(report.section("pools").rows) > 0
    with pytest.raises(UserError, match="no tenant"):
        build(ledger, "allocation", tenant="nobody")


def test_quarter_combines_monthly_snapshots(ledger: ledger_db.Ledger) -> None:
    with pytest.raises(UserError, match="2026-11, 2026-12") as missing:
        build(ledger, "usage", period="2026-Q4")
    assert "`dctenant snapshot --period 2026-Q4 --prometheus URL`" in str(missing.value)
    for label in ("2026-11", "2026-12"):
        snapshot_db.open_snapshots(ledger).take(period=periods.parse(label), rollups=reports_data.rollups(),
                                                source="s", actor="t", at=reports_data.NOW)
    report = build(ledger, "usage", period="2026-Q4")
    assert len([s for s in report.sources if s.name.startswith("snapshot")]) == 3
    rows = {(r["tenant"], r["pool"], r["resource"]): r for r in report.section("usage").rows}
    october = {(r["tenant"], r["pool"], r["resource"]): r for r in build(ledger, "usage").section("usage").rows}
    # The same rollups in each month: the length-weighted average is October's.
    assert rows["bale", "thr-ab", "cpu"]["average"] == october["bale", "thr-ab", "cpu"]["average"]


def test_snapshot_retaken_keeps_the_old_version(ledger: ledger_db.Ledger) -> None:
    store = snapshot_db.open_snapshots(ledger)
    info, event = store.take(period=reports_data.OCTOBER, rollups=reports_data.rollups()[:10], source="s",
                             actor="t", at=reports_data.NOW)
    assert event.kind == "snapshot-replaced" and event.before["rows"] > 10 and event.after["rows"] == 10
    assert (event.before["version"], info.version) == (1, 2)
    assert len(store.rollups(snapshot=info.id)) == 10
    assert len(store.rollups(snapshot=event.before["snapshot"])) == len(reports_data.rollups())
    assert ledger.verify().intact


def test_a_changed_snapshot_is_flagged(ledger: ledger_db.Ledger) -> None:
    chain_cases.run(ledger, "UPDATE snapshot_values SET value = '1' WHERE stat = 'avg' AND tenant = 'bale'")
    report = build(ledger, "usage")
    assert any("changed after it was taken" in w for w in report.warnings)


def test_missing_snapshot_is_a_user_error_with_a_working_command(ledger: ledger_db.Ledger) -> None:
    with pytest.raises(UserError, match=r"`dctenant snapshot --period 2026-09 --prometheus URL`"):
        build(ledger, "traffic", period="2026-09")
    with pytest.raises(UserError, match=r"`dctenant snapshot --calendar jalali --period 1405-06 --prometheus URL`"):
        build(ledger, "traffic", period="1405-06", calendar="jalali")


def test_a_future_period_is_refused_without_suggesting_a_failing_command(ledger: ledger_db.Ledger) -> None:
    with pytest.raises(UserError, match="nothing to report yet") as caught:
        build(ledger, "usage", period="2026-12")
    assert "dctenant snapshot" not in str(caught.value)


def test_csv_is_rectangular_with_meta_first(ledger: ledger_db.Ledger) -> None:
    rows = list(csv.reader(io.StringIO(reporting.render(build(ledger, "allocation"), output="csv",
                                                        style=cells.Style()))))
    assert rows[0][:3] == ["section", "key", "value"]
    assert {len(r) for r in rows} == {len(rows[0])}
    assert rows[1][:3] == ["meta", "report", "allocation"]
    assert {r[0] for r in rows[1:]} == {"meta", "tenants", "pools"}


def test_issue_records_the_file_hash(ledger: ledger_db.Ledger, tmp_path: pathlib.Path) -> None:
    report = build(ledger, "licences")
    text = reporting.render(report, output="json", style=cells.Style())
    issued = reporting.issue(report, text=text, out=str(tmp_path / "r.json"), output="json", ledger=ledger,
                             actor="auditor", now=reports_data.NOW)
    assert issued.event.after["covers"] == report.ledger_hash
    import hashlib

    assert issued.sha256 == hashlib.sha256((tmp_path / "r.json").read_bytes()).hexdigest()
    assert ledger.verify().intact


@pytest.mark.parametrize("form", ["json", "csv"])
def test_an_issued_report_reproduces_identically(ledger: ledger_db.Ledger, tmp_path: pathlib.Path, form: str) -> None:
    report = build(ledger, "usage")
    out = tmp_path / f"usage.{form}"
    reporting.issue(report, text=reporting.render(report, output=form, style=cells.Style()), out=str(out),
                    output=form, ledger=ledger, actor="auditor", now=reports_data.NOW)
    # The issue event is event 8, at the report's own time: it must not count in the recomputation.
    assert ledger.last_event().seq == 8
    again = reporting.reproduce(str(out), ledger=ledger)
    assert again.identical and again.differences == ()
    # A later snapshot version does not change what the issued report read (it names version 1).
    snapshot_db.open_snapshots(ledger).take(period=reports_data.OCTOBER, rollups=reports_data.rollups()[:10],
                                            source="s", actor="t", at=reports_data.NOW)
    assert reporting.reproduce(str(out), ledger=ledger).identical
    # Tampering with a figure in the file is found and named.
    text = out.read_text(encoding="utf-8")
    out.write_text(text.replace('"600"', '"601"', 1) if form == "json" else text.replace(",600,", ",601,", 1),
                   encoding="utf-8")
    changed = reporting.reproduce(str(out), ledger=ledger)
    assert not changed.identical and len(changed.differences) == 1
    assert "601" in changed.differences[0] and "600" in changed.differences[0]
