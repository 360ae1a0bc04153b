"""Recording apply in the ledger, and the ``audit`` and ``report`` commands end to end (CliRunner)."""

from __future__ import annotations

import json
import pathlib

import pytest
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.clients import ledger_db
from dctenant.domain import changes
from dctenant.ops import applying
from tests.unit.clients import chain_cases
from tests.unit.ops import reports_data


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_apply_records_its_changes(tmp_path: pathlib.Path) -> None:
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    ns = changes.Change(op=changes.ChangeOp.CREATE, api_version="v1", kind="Namespace", name="bale-messaging",
                        manifest={"metadata": {"name": "bale-messaging", "labels": {"dctenant.io/tenant": "bale"}}})
    quota = changes.Change(op=changes.ChangeOp.UPDATE, api_version="v1", kind="ResourceQuota", name="dctenant-quota",
                           namespace="bale-messaging",
                           manifest={"metadata": {"labels": {"dctenant.io/tenant": "bale"}}},
                           fields=(changes.FieldDiff(path="spec.hard.requests.cpu", before="2", after="3"),))
    plan = changes.Plan(pool="thr-ab", context="ctx", changes=(ns, quota))
    applying.record(ledger, applying.Outcome(plan=plan, done=(ns, quota)), actor="ops@ndc")
    events = list(ledger.events())
    assert [e.kind for e in events] == ["namespace-created", "quota-changed", "allocation-applied"]
    assert events[1].subject["tenant"] == "bale" and events[1].before == {"spec.hard.requests.cpu": "2"}
    assert events[2].after == {"applied": 2, "planned": 2, "held": 0, "released": 0, "error": None}
    assert [e.seq for e in ledger.events(tenant="bale")] == [1, 2]
    ledger.close()


def test_a_release_of_enforcement_is_recorded_and_holds_are_counted(tmp_path: pathlib.Path) -> None:
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    held = changes.FieldDiff(path="spec.hard.requests.cpu", before="2", after="8")
    released = changes.Change(
        op=changes.ChangeOp.UPDATE, api_version="v1", kind="ResourceQuota", name="dctenant-quota",
        namespace="bale-media", manifest={"metadata": {"labels": {"dctenant.io/tenant": "bale"}}}, fields=(held,),
        hold=changes.Hold(action="throttle cpu", since="2026-11-27T10:00:00Z", fields=(held,), released=True))
    kept = changes.Change(op=changes.ChangeOp.HELD, api_version="v1", kind="ConfigMap", name="dctenant-bandwidth",
                          namespace="bale-media", hold=changes.Hold(action="throttle bandwidth/egress"))
    plan = changes.Plan(pool="thr-ab", context="ctx", changes=(released, kept))
    applying.record(ledger, applying.Outcome(plan=plan, done=(released,)), actor="ops@ndc")
    events = list(ledger.events())
    assert [e.kind for e in events] == ["enforcement-released", "quota-changed", "allocation-applied"]
    assert events[0].subject == {"pool": "thr-ab", "kind": "ResourceQuota", "name": "dctenant-quota",
                                 "namespace": "bale-media", "tenant": "bale"}
    assert events[0].before == {"action": "throttle cpu", "since": "2026-11-27T10:00:00Z",
                                "spec.hard.requests.cpu": "2"}
    assert events[0].after == {"spec.hard.requests.cpu": "8"}
    assert "--release-enforcement" in events[0].reason
    assert events[2].after == {"applied": 1, "planned": 1, "held": 1, "released": 1, "error": None}
    ledger.close()


@pytest.fixture
def filled(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(reports_data.ROOT)
    url = str(tmp_path / "l.db")
    ledger = ledger_db.open_ledger(url)
    reports_data.fill(ledger)
    ledger.close()
    return url


def test_audit_verify_and_exit_codes(filled: str, tmp_path: pathlib.Path) -> None:
    code, out, _ = invoke("audit", "verify", "--ledger", filled)
    assert (code, out.strip()) == (0, "7 events, chain intact")
    code, out, _ = invoke("report", "traffic", "--period", "2026-10", "-o", "json", "--ledger", filled,
                          "--out", str(tmp_path / "t.json"), "--generated-at", "2026-11-27T09:30:00Z")
    assert code == 0
    assert json.loads((tmp_path / "t.json").read_text())["ledger"]["lastSeq"] == 7
    ledger = ledger_db.open_ledger(filled)
    chain_cases.run(ledger, "DELETE FROM events WHERE seq >= 7")
    ledger.close()
    code, out, _ = invoke("audit", "verify", "--ledger", filled)
    assert code == 0  # cut at the end: the chain alone cannot tell...
    code, out, err = invoke("audit", "verify", "--ledger", filled, "--report", str(tmp_path / "t.json"))
    assert code == 1 and "(truncated)" in out and "tampered" in err  # ...the report's hash can
    chain_cases.run(ledger_db.open_ledger(filled), "UPDATE events SET reason = 'x' WHERE seq = 2")
    code, out, _ = invoke("audit", "verify", "--ledger", filled, "-o", "json")
    assert code == 1 and json.loads(out)["breach"] == {"seq": 2, "problem": "edited",
                                                       "message": "its content no longer matches its hash"}


def test_audit_log_formats(filled: str) -> None:
    code, out, _ = invoke("audit", "log", "--ledger", filled, "--tenant", "rubika", "-o", "json")
    assert code == 0 and [e["kind"] for e in json.loads(out)["events"]] == [
        "enforcement-decision", "action-taken", "action-undone"]
    code, out, _ = invoke("audit", "log", "--ledger", filled, "--kind", "licence-changed", "-o", "csv")
    assert code == 0 and out.splitlines()[0].startswith("seq,at,kind") and len(out.splitlines()) == 2
    code, out, _ = invoke("audit", "log", "--ledger", filled, "--since", "2026-10-05", "--until", "2026-10-06",
                          "-o", "json")
    assert code == 0 and [e["seq"] for e in json.loads(out)["events"]] == [2, 3, 4]
    code, out, _ = invoke("audit", "log", "--ledger", filled)
    assert code == 0 and "Audit ledger" in out
    code, _, err = invoke("audit", "log", "--ledger", filled, "--since", "yesterday")
    assert code == 2 and "ISO 8601" in err


def test_report_table_and_jalali(filled: str) -> None:
    code, out, _ = invoke("report", "licences", "--period", "1405-08", "--calendar", "jalali", "--ledger", filled,
                          "--generated-at", "2026-11-27T09:30:00Z")
    assert code == 0
    assert "Period: 1405-08 (1405/08/01 – 1405/08/30)" in out and "بله" in out
    code, out, _ = invoke("report", "allocation", "--period", "2026-10", "-o", "html", "--ledger", filled,
                          "--calendar", "jalali", "--persian-digits")
    assert code == 0 and 'dir="rtl"' in out and "۱۴۰۵" in out


def test_report_errors_are_clear(filled: str) -> None:
    from dctenant.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["report", "usage", "--period", "2026-13", "--ledger", filled])
    assert exc.value.code == 2  # a bad --period is a usage error, like a bad --at (issue 18)
