"""``dctenant validate`` and ``dctenant show``, through click's runner and through the real entry point."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from dctenant import __version__
from dctenant.cli import main as cli_main
from dctenant.errors import ValidationError
from tests.conftest import EXAMPLE, QuotasCopy

AT = "2026-11-27"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``dctenant.cli.main.main`` in-process: the path that turns errors into exit codes."""
    with pytest.raises(SystemExit) as caught:
        cli_main.main(argv)
    out, err = capsys.readouterr()
    code = caught.value.code
    return (code if isinstance(code, int) else 1), out, err


def dctenant(*args: str, env: dict[str, str] | None = None, cwd: pathlib.Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dctenant", *args], check=False, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=60)


def broken(qcopy: QuotasCopy) -> QuotasCopy:
    qcopy.edit("tenants/bale.yaml", "  tier: national\n", "  tier: nationl\n")
    qcopy.edit("tenants/wispi.yaml", "      memory: 768Gi\n", "      memory: 768GB\n")
    return qcopy


# validate -------------------------------------------------------------------------------------

def test_validate_example_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(cli_main.cli, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{EXAMPLE} is valid: 4 pools, 3 storage classes, 3 tiers" in result.stderr


def test_validate_broken_raises_validation_error_in_runner(runner: CliRunner, qcopy: QuotasCopy) -> None:
    result = runner.invoke(cli_main.cli, ["validate", str(broken(qcopy).root)])
    assert result.exit_code == 1
    assert isinstance(result.exception, ValidationError)
    assert len(result.exception.problems) == 2


def test_validate_broken_prints_one_line_per_problem(qcopy: QuotasCopy, capsys: pytest.CaptureFixture[str]) -> None:
    broken(qcopy)
    code, out, err = run_main(["validate", str(qcopy.root)], capsys)
    assert code == 1
    assert out == ""
    bale, wispi = qcopy.file("tenants/bale.yaml"), qcopy.file("tenants/wispi.yaml")
    assert err.splitlines() == [
        f'{bale}:{qcopy.line("tenants/bale.yaml", "  tier: nationl")}: spec.tier: unknown tier "nationl" '
        '(did you mean "national"?)',
        f'{wispi}:{qcopy.line("tenants/wispi.yaml", "      memory: 768GB")}: spec.demand.isf-1.memory: '
        'invalid quantity "768GB": "GB" is not a Kubernetes unit; write "768G" (768×10^9 bytes, decimal) or '
        '"768Gi" (768×2^30 bytes, binary)',
        "2 problems found",
    ]


def test_validate_subprocess_exit_codes(qcopy: QuotasCopy) -> None:
    ok = dctenant("validate", str(qcopy.root))
    assert ok.returncode == 0, ok.stderr
    broken(qcopy)
    bad = dctenant("validate", str(qcopy.root))
    assert bad.returncode == 1
    assert bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert lines[0].startswith(f"{qcopy.file('tenants/bale.yaml')}:8: spec.tier: ")
    assert lines[1].startswith(f"{qcopy.file('tenants/wispi.yaml')}:")
    assert ": spec.demand.isf-1.memory: " in lines[1]
    assert "Traceback" not in bad.stderr


def test_validate_not_a_directory(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["validate", str(tmp_path / "nowhere")], capsys)
    assert code == 2  # a usage error, like a bad --at
    assert err.strip().splitlines()[-1] == (
        f"Error: Invalid value for PATH: the quotas directory '{tmp_path / 'nowhere'}' (given as PATH) does not "
        "exist; pass the directory that holds datacentre.yaml, e.g. `dctenant validate quotas/`, or set "
        "$DCTENANT_QUOTAS")


def test_verbose_gives_a_traceback(qcopy: QuotasCopy) -> None:
    broken(qcopy)
    result = dctenant("-v", "validate", str(qcopy.root))
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "dctenant.errors.ValidationError" in result.stderr


def test_debug_environment_gives_a_traceback(qcopy: QuotasCopy) -> None:
    broken(qcopy)
    result = dctenant("validate", str(qcopy.root), env={"DCTENANT_DEBUG": "1"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr


def test_quotas_environment_variable_is_the_default_path(runner: CliRunner, qcopy: QuotasCopy,
                                                         tmp_path: pathlib.Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "empty-cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(cli_main.cli, ["validate"], env={"DCTENANT_QUOTAS": str(qcopy.root)})
    assert result.exit_code == 0, result.output
    # rich wraps at 80 columns, and a temporary path long enough (pytest-100 and above) is wrapped.
    assert f"{qcopy.root} is valid" in " ".join(result.stderr.split())
    broken(qcopy)
    result = runner.invoke(cli_main.cli, ["validate"], env={"DCTENANT_QUOTAS": str(qcopy.root)})
    assert result.exit_code == 1
    assert result.exception.problems[0].file == qcopy.file("tenants/bale.yaml")


def test_without_environment_the_default_is_quotas_in_the_working_directory(
        runner: CliRunner, qcopy: QuotasCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DCTENANT_QUOTAS", raising=False)
    monkeypatch.chdir(qcopy.root.parent)
    result = runner.invoke(cli_main.cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert "quotas is valid" in result.stderr


def test_explicit_path_beats_the_environment(runner: CliRunner, qcopy: QuotasCopy, tmp_path: pathlib.Path) -> None:
    result = runner.invoke(cli_main.cli, ["validate", str(qcopy.root)], env={"DCTENANT_QUOTAS": str(tmp_path / "x")})
    assert result.exit_code == 0, result.output


# show -----------------------------------------------------------------------------------------

def test_show_json(runner: CliRunner) -> None:
    result = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "--output", "json", "--at", AT])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "DataCentreSummary"
    assert data["at"] == AT
    assert list(data["pools"]) == ["thr-ab", "thr-pd", "isf-1", "mhd-1"]
    cpu = data["pools"]["thr-ab"]["resources"]["cpu"]
    assert cpu == {"capacity": "16000", "overcommit": "2", "reserve": "800", "allocatable": "31200",
                   "demand": cpu["demand"]}
    memory = data["pools"]["isf-1"]["resources"]["memory"]
    assert memory["capacity"] == str(16 * 2**40)
    assert memory["reserve"] == "879609302221"
    for pool in data["pools"].values():
        for line in pool["resources"].values():
            for value in line.values():
                assert isinstance(value, str)
                float(value)  # a plain decimal string, no unit suffix
                assert value.replace(".", "", 1).isdigit()
    assert data["pools"]["thr-ab"]["resources"]["bandwidth/egress"]["overcommit"] == "1.2"
    bale = data["tenants"]["bale"]
    assert bale["tier"] == "national"
    assert bale["displayName"] == {"en": "Bale", "fa": "بله"}
    assert bale["licence"] == {"number": "CRA-MSG-1401-0007", "expires": "2027-04-11", "daysToExpiry": 135,
                               "state": "active"}
    assert bale["demand"]["thr-pd"]["nvidia.com/gpu"] == "96"
    assert bale["namespaces"] == ["bale-messaging", "bale-media", "bale-ml", "bale-push"]
    assert sorted(data["tenants"]) == list(data["tenants"])
    states = {t["licence"]["state"] for t in data["tenants"].values()}
    assert states == {"active", "expiring", "grace", "expired", "suspended", "revoked"}


def test_show_yaml_is_the_same_result_as_json(runner: CliRunner) -> None:
    as_json = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "-o", "json", "--at", AT])
    as_yaml = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "-o", "yaml", "--at", AT])
    assert as_yaml.exit_code == 0, as_yaml.output
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    assert "مرکز داده ملی ایران" in as_yaml.stdout  # not escaped


def test_show_table(runner: CliRunner) -> None:
    result = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "--at", AT])
    assert result.exit_code == 0, result.output
    assert "Pool thr-ab" in result.stdout
    assert "bale" in result.stdout


def test_show_at_default_is_today(runner: CliRunner) -> None:
    import datetime as dt

    result = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "-o", "json"])
    assert json.loads(result.stdout)["at"] == dt.date.today().isoformat()


@pytest.mark.parametrize("bad", ["2026-13-01", "27/11/2026", "tomorrow"])
def test_show_bad_date_is_a_usage_error(runner: CliRunner, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "--at", bad])
    assert result.exit_code == 2
    assert f"'{bad}' is not a date; write YYYY-MM-DD" in result.stderr
    code, out, err = run_main(["show", str(EXAMPLE), "--at", bad], capsys)
    assert (code, out) == (2, "")
    assert "Invalid value for '--at'" in err


def test_show_bad_output_format_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli_main.cli, ["show", str(EXAMPLE), "-o", "xml"])
    assert result.exit_code == 2


def test_show_broken_quotas_exits_1(qcopy: QuotasCopy, capsys: pytest.CaptureFixture[str]) -> None:
    broken(qcopy)
    code, out, err = run_main(["show", str(qcopy.root), "-o", "json"], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "2 problems found"


# the group ------------------------------------------------------------------------------------

def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli_main.cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"dctenant, version {__version__}\n"


def test_version_through_the_entry_point() -> None:
    result = dctenant("--version")
    assert (result.returncode, result.stdout) == (0, f"dctenant, version {__version__}\n")


def test_help_lists_commands_without_importing_them() -> None:
    code = ("import sys; from dctenant.cli import main\n"
            "try:\n    main.main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'dctenant.cli.commands.validate' not in sys.modules\n"
            "assert 'dctenant.loaders.loading' not in sys.modules\n"
            "assert 'yaml' not in sys.modules and 'rich' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout and "show" in result.stdout


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["frobnicate"], capsys)
    assert code == 2
    assert "No such command 'frobnicate'" in err
