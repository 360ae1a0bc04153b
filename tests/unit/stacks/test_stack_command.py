"""``dctenant stack`` without the pulumi CLI (exit 4, how to install it) and with a stand-in that records its calls.

The real CLI is not installable here. A small shell script named ``pulumi`` answers ``version``,
records every call with its environment, and fails the operation itself: enough to check what
the Automation API wrapper hands to the CLI (stack, backend, quotas, interpreter, policy pack)
and how a failure is reported, without a cluster or a download.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

import pytest
from click.testing import CliRunner
from pulumi import automation as auto

from dctenant.cli.main import cli, main
from dctenant.clients import pulumi as pulumi_client
from dctenant.errors import BackendError, UserError
from dctenant.ops import stacking
from tests.conftest import EXAMPLE, REPO

PROJECT = REPO / "stacks" / "datacentre"
FAKE = """#!/bin/sh
echo "$@" >> "{log}"
case "$*" in
  version) echo "v3.200.0"; exit 0 ;;
  *"stack select"*) env > "{log}.env"; exit 0 ;;
esac
# Like the real CLI, end the engine's event log with a cancel event (else the reader waits 5 s).
previous=""
for arg in "$@"; do
  if [ "$previous" = "--event-log" ]; then echo '{{"sequence": 0, "timestamp": 0, "cancelEvent": {{}}}}' >> "$arg"; fi
  previous="$arg"
done
echo "error: could not reach the cluster of context ndc-thr-ab" >&2
exit 1
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["stack", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def no_pulumi(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def fake_pulumi(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A stand-in ``pulumi`` first on PATH; returns its call log. Installing the CLI is forbidden."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    script = bin_dir / "pulumi"
    script.write_text(FAKE.format(log=log), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.defpath}")
    monkeypatch.setenv("DCTENANT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)

    def no_download(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("dctenant must never install the pulumi CLI")

    monkeypatch.setattr(auto.PulumiCommand, "install", no_download)
    return log


@pytest.mark.usefixtures("no_pulumi")
@pytest.mark.parametrize("action", stacking.ACTIONS)
def test_without_the_cli_exit_4_with_install_instructions(action: str) -> None:
    code, out, err = invoke(action, "--pool", "thr-ab", str(EXAMPLE), "--project", str(PROJECT))
    assert code == 4
    assert out == ""
    assert "pulumi CLI is not on PATH" in err and "never downloads" in err
    assert "https://www.pulumi.com/docs/install/" in err


@pytest.mark.usefixtures("no_pulumi")
def test_without_the_cli_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stack", "up", "--pool", "isf-1", str(EXAMPLE), "--project", str(PROJECT)])
    assert exited.value.code == 4
    assert "pulumi CLI is not on PATH" in capsys.readouterr().err


@pytest.mark.usefixtures("no_pulumi")
def test_a_misspelt_pool_is_reported_before_looking_for_pulumi(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stack", "preview", "--pool", "thr-abb", str(EXAMPLE), "--project", str(PROJECT)])
    assert exited.value.code == 1
    assert 'no pool "thr-abb"' in capsys.readouterr().err


@pytest.mark.usefixtures("no_pulumi")
def test_a_directory_without_pulumi_yaml_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UserError, match="not a Pulumi project"):
        stacking.run("preview", pool="thr-ab", path=str(EXAMPLE), project=str(tmp_path))


@pytest.mark.usefixtures("no_pulumi")
def test_a_pool_without_stack_settings_is_refused(tmp_path: pathlib.Path) -> None:
    shutil.copy(PROJECT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    with pytest.raises(UserError, match=r"no Pulumi\.thr-ab\.yaml"):
        stacking.run("preview", pool="thr-ab", path=str(EXAMPLE), project=str(tmp_path))


def test_the_wrapper_hands_the_cli_the_stack_backend_quotas_and_policy(fake_pulumi: pathlib.Path,
                                                                        tmp_path: pathlib.Path) -> None:
    with pytest.raises(BackendError, match="pulumi preview failed for stack thr-ab: error: could not reach"):
        stacking.run("preview", pool="thr-ab", path=str(EXAMPLE), project=str(PROJECT))
    calls = fake_pulumi.read_text(encoding="utf-8").splitlines()
    assert calls[0] == "version"
    assert any("stack select" in c and "thr-ab" in c for c in calls)
    (preview,) = [c for c in calls if c.startswith("--non-interactive preview ")]
    assert preview.endswith("--stack thr-ab")
    assert f"--policy-pack {REPO / 'stacks' / 'policy'}" in preview
    env = dict(line.split("=", 1) for line in
               pathlib.Path(f"{fake_pulumi}.env").read_text(encoding="utf-8").splitlines() if "=" in line)
    assert env["PULUMI_BACKEND_URL"] == (tmp_path / "state" / "pulumi").as_uri()
    assert env["DCTENANT_QUOTAS"] == str(EXAMPLE.resolve())
    assert env["PULUMI_PYTHON_CMD"] == sys.executable
    assert (tmp_path / "state" / "pulumi").is_dir()


def test_no_policy_and_refresh_run_without_the_pack(fake_pulumi: pathlib.Path) -> None:
    for action, policy in (("preview", False), ("refresh", True)):
        with pytest.raises(BackendError, match=f"pulumi {action} failed"):
            stacking.run(action, pool="thr-ab", path=str(EXAMPLE), project=str(PROJECT), policy=policy)
    assert "--policy-pack" not in fake_pulumi.read_text(encoding="utf-8")


def test_a_failure_is_one_red_line_and_exit_1(fake_pulumi: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stack", "up", "--pool", "thr-ab", str(EXAMPLE), "--project", str(PROJECT)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "pulumi up failed for stack thr-ab: error: could not reach the cluster" in err
    assert "code:" not in err  # the Automation API's framing is dropped


def test_a_file_backend_needs_a_passphrase(fake_pulumi: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    with pytest.raises(UserError, match="PULUMI_CONFIG_PASSPHRASE"):
        stacking.run("preview", pool="thr-ab", path=str(EXAMPLE), project=str(PROJECT))
    assert not fake_pulumi.exists()  # refused before running anything


def test_pulumi_backend_url_is_honoured(fake_pulumi: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://ndc-pulumi-state?region=ir-thr-1")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")  # a remote backend brings its own secrets provider
    with pytest.raises(BackendError):
        stacking.run("preview", pool="thr-ab", path=str(EXAMPLE), project=str(PROJECT))
    env = pathlib.Path(f"{fake_pulumi}.env").read_text(encoding="utf-8")
    assert "PULUMI_BACKEND_URL=s3://ndc-pulumi-state?region=ir-thr-1\n" in env


def test_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("DCTENANT_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert stacking.state_dir() == tmp_path / "xdg" / "dctenant"
    assert stacking.backend_url() == (tmp_path / "xdg" / "dctenant" / "pulumi").as_uri()
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert stacking.state_dir() == tmp_path / "home" / ".local" / "state" / "dctenant"


def test_changes_and_exit_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pulumi_client._changes({auto.OpType.CREATE: 2, "same": 5}) == {"create": 2, "same": 5}
    quiet = stacking.StackResult(action="refresh", pool="thr-ab", backend="file:///x", changes={"same": 81})
    drift = stacking.StackResult(action="refresh", pool="thr-ab", backend="file:///x",
                                 changes={"same": 80, "update": 1})
    assert not quiet.pending and drift.pending
    assert drift.as_dict()["pending"] is True
    for result, with_flag, expected in ((drift, True, 3), (drift, False, 0), (quiet, True, 0)):
        monkeypatch.setattr(stacking, "run", lambda *_a, _r=result, **_k: _r)
        args = ["refresh", "--pool", "thr-ab", "-o", "json"] + (["--exit-code"] if with_flag else [])
        code, out, _ = invoke(*args)
        assert code == expected
        assert '"update": 1' in out or result is quiet


def test_the_table_lists_the_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    result = stacking.StackResult(action="preview", pool="mhd-1", backend="file:///s",
                                  changes={"create": 3, "same": 70})
    monkeypatch.setattr(stacking, "run", lambda *_a, **_k: result)
    code, out, _ = invoke("preview", "--pool", "mhd-1")
    assert code == 0
    assert "stack mhd-1: preview" in out and "create" in out and "70" in out
