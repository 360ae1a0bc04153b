"""``dctenant report`` and ``snapshot`` on the command line: working suggestions, Jalali hints, --reproduce."""

from __future__ import annotations

import pathlib

import pytest
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.clients import ledger_db
from dctenant.errors import UserError
from tests.unit.ops import reports_data


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stderr or the error ``cli.main`` would print (it alone catches UserError)."""
    result = CliRunner().invoke(cli, list(args))
    if isinstance(result.exception, UserError):
        return 1, result.stdout, str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def filled(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(reports_data.ROOT)
    monkeypatch.delenv("DCTENANT_PROMETHEUS", raising=False)
    monkeypatch.delenv("DCTENANT_PROMETHEUS_URL", raising=False)
    url = str(tmp_path / "l.db")
    ledger = ledger_db.open_ledger(url)
    reports_data.fill(ledger)
    ledger.close()
    return url


def test_snapshot_without_prometheus_shows_the_working_command(filled: str) -> None:
    code, _, err = invoke("snapshot", "--period", "2026-10", "--ledger", filled)
    assert code == 1
    assert "dctenant snapshot --period 2026-10 --prometheus http://prometheus.monitoring:9090" in err
    code, _, err = invoke("snapshot", "--period", "1405-08", "--calendar", "jalali", "--ledger", filled)
    assert code == 1 and "--period 1405-08 --calendar jalali --prometheus" in err
    # The suggested command runs as written up to the network (the URL is an example).
    assert "no such option" not in err.lower()


def test_a_solar_hijri_year_without_the_jalali_calendar_is_refused(filled: str) -> None:
    code, _, err = invoke("report", "usage", "--period", "1405-08-10..1405-08-13", "--ledger", filled)
    assert code == 2 and "--calendar jalali" in err and "1405" in err  # a bad --period is a usage error


def test_missing_snapshot_suggests_a_command_that_parses(filled: str) -> None:
    code, _, err = invoke("report", "usage", "--period", "1405-06", "--calendar", "jalali", "--ledger", filled,
                          "--generated-at", "2026-11-27T09:30:00Z")
    assert code == 1
    suggested = err.split("`")[1]
    assert suggested == "dctenant snapshot --calendar jalali --period 1405-06 --prometheus URL"
    # The suggestion is accepted by the command's own parser (it then needs a real URL, nothing else).
    code, _, err = invoke(*suggested.split()[1:-2], "--ledger", filled)
    assert code == 1 and "--prometheus" in err and "no such option" not in err.lower()


def test_reproduce_on_the_command_line(filled: str, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "usage.json"
    code, _, _ = invoke("report", "usage", "--period", "2026-10", "-o", "json", "--out", str(out), "--ledger", filled,
                        "--generated-at", "2026-11-27T09:30:00Z")
    assert code == 0
    code, text, _ = invoke("report", "--reproduce", str(out), "--ledger", filled)
    assert code == 0 and text.startswith("identical")
    out.write_text(out.read_text(encoding="utf-8").replace('"average": "600"', '"average": "650"', 1),
                   encoding="utf-8")
    code, text, _ = invoke("report", "--reproduce", str(out), "--ledger", filled)
    assert code == 3 and text.startswith("DIFFERENT") and "file '650', recomputed '600'" in text
