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


def build(ledger: ledger_db.Ledger, kind: str, period: str = "2026-10", **kw: str) -> reporting.reports.Report:
    return reporting.build(kind, path="quotas", period=reporting.period(period), now=reports_data.NOW,
                           ledger=ledger, **kw)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", ["csv", "json"])
def test_golden(ledger: ledger_db.Ledger, kind: str, form: str) -> None:
    text = _stable(reporting.render(build(ledger, kind), output=form, style=cells.Style()), ledger)
    golden.check(GOLDEN / f"{kind}.{form}", text)


def test_json_carries_provenance(ledger: ledger_db.Ledger) -> None:
    data = json.loads(reporting.render(build(ledger, "usage"), output="json", style=cells.Style()))
    assert data["ledger"]["lastHash"] == ledger.last_hash() and data["ledger"]["lastSeq"] == 7
    assert data["generatedAt"] == "2026-11-27T09:30:00.000000Z"
    assert data["period"] == {"label": "2026-10", "calendar": "gregorian", "start": "2026-10-01T00:00:00.000000Z",
                              "end": "2026-11-01T00:00:00.000000Z"}
    assert [s["name"] for s in data["sources"]] == ["quotas", "ledger", "snapshot 2026-10"]
    assert data["names"]["bale"] == {"en": "Bale", "fa": "بله"}


def test_usage_figures(ledger: ledger_db.Ledger) -> None:
    report = build(ledger, "usage")
    rows = {(r["tenant"], r["pool"], r["resource"]): r for r in report.section("usage").rows}
    bale = rows["bale", "thr-ab", "cpu"]
    assert bale["utilisation"] == "0.3" and bale["daysOver"] == 3
    idle = {(r["tenant"], r["resource"]): r for r in report.section("idle").rows}
    assert idle["bale", "cpu"]["idleShare"] == "0.7"


def test_traffic_shares_add_up(ledger: ledger_db.Ledger) -> None:
    from decimal import Decimal

    rows = build(ledger, "traffic").section("traffic").rows
    assert abs(sum(Decimal(r["egressShare"]) for r in rows) - 1) < Decimal("0.00001")


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
    with pytest.raises(UserError, match="2026-11, 2026-12"):
        build(ledger, "usage", period="2026-Q4")
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


def test_missing_snapshot_is_a_user_error(ledger: ledger_db.Ledger) -> None:
    with pytest.raises(UserError, match="dctenant snapshot --period 2026-09"):
        build(ledger, "traffic", period="2026-09")


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
