"""Usage errors, missing extras and shell completion, through the real entry point.

Usage errors (a bad option value or PATH) exit 2 with click's message; a command whose optional
dependency is not installed exits 4 with one line naming the extra; completion offers the pools
and tenants of the quotas directory on the command line.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from dctenant.loaders import loading
from tests.conftest import EXAMPLE

MODEL = loading.load(EXAMPLE)


def run(*args: str, env: dict[str, str] | None = None, block: tuple[str, ...] = (),
        cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m dctenant ARGS`` with the modules in ``block`` made unimportable (as if not installed)."""
    code = ("import sys\n"
            f"for name in {list(block)!r}: sys.modules[name] = None\n"
            "from dctenant.cli.main import main\n"
            "main(sys.argv[1:])\n")
    root = str(pathlib.Path(__file__).resolve().parents[3])
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
                          timeout=60, cwd=cwd or root,
                          env={**os.environ, "PYTHONPATH": root, **(env or {})})


@pytest.mark.parametrize("args", [
    ("report", "allocation", str(EXAMPLE), "--period", "2026-13"),
    ("report", "allocation", str(EXAMPLE), "--period", "2026-11-01..2026-10-01"),
    ("snapshot", str(EXAMPLE), "--period", "last month", "--prometheus", "http://127.0.0.1:9"),
    ("plan", str(EXAMPLE), "--at", "2026-13-01"),
])
def test_bad_period_and_bad_at_are_both_usage_errors(args: tuple[str, ...], tmp_path: pathlib.Path) -> None:
    proc = run(*args, "--ledger", str(tmp_path / "l.db")) if args[0] != "plan" else run(*args)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(("Error: Invalid value for '--period': ", "Error: Invalid value for '--at': "))
    assert "Traceback" not in proc.stderr


def test_missing_quotas_directory_says_what_path_is(tmp_path: pathlib.Path) -> None:
    proc = run("plan", "/nonexistent")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for PATH: the quotas directory '/nonexistent' (given as PATH) does not exist; "
        "pass the directory that holds datacentre.yaml, e.g. `dctenant validate quotas/`, or set $DCTENANT_QUOTAS")
    afile = tmp_path / "datacentre.yaml"
    afile.write_text("x: 1\n", encoding="utf-8")
    proc = run("validate", str(afile))
    assert proc.returncode == 2
    assert f"'{afile}' (given as PATH) is not a directory" in proc.stderr
    proc = run("show", cwd=tmp_path, env={"DCTENANT_QUOTAS": ""})
    assert proc.returncode == 2
    assert "the quotas directory 'quotas' (the default, from the current directory) does not exist" in proc.stderr
    proc = run("show", cwd=tmp_path, env={"DCTENANT_QUOTAS": str(tmp_path / "q")})
    assert f"'{tmp_path / 'q'}' ($DCTENANT_QUOTAS) does not exist" in proc.stderr


@pytest.mark.parametrize(("args", "module", "extra"), [
    (("serve", str(EXAMPLE)), "fastapi", "serve"),
    (("dashboards", str(EXAMPLE), "--out", "{tmp}/d"), "grafana_foundation_sdk", "dashboards"),
])
def test_a_missing_extra_is_one_line_and_exit_4(args: tuple[str, ...], module: str, extra: str,
                                                 tmp_path: pathlib.Path) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = run(*argv, block=(module,))
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.splitlines() == [
        f"dctenant {args[0]} needs the {extra!r} extra ({module} is not installed): pip install 'dctenant[{extra}]'"]
    assert proc.stdout == ""
    assert run(args[0], "--help", block=(module,)).returncode == 0  # help never needs the extra


def test_stack_without_pulumi_is_one_line_and_exit_4() -> None:
    # Either the pulumi CLI (not installable here) or the stacks extra is what is missing: one line.
    proc = run("stack", "preview", str(EXAMPLE), "--pool", "thr-ab", block=("pulumi",),
               env={"PATH": os.path.dirname(sys.executable)})
    assert proc.returncode == 4, proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert "pulumi" in proc.stderr


def test_a_missing_extra_with_verbose_shows_the_traceback() -> None:
    proc = run("-v", "serve", str(EXAMPLE), block=("fastapi",))
    assert proc.returncode == 1
    assert "ModuleNotFoundError" in proc.stderr


def complete(words: str, shell: str = "bash") -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    proc = run(env={"_DCTENANT_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line]


def test_completion_offers_the_pools_and_tenants_of_quotas() -> None:
    pools = sorted(MODEL.datacentre.pool_names)
    tenants = sorted(t.id for t in MODEL.tenants)
    assert complete(f"dctenant diff {EXAMPLE} --pool ") == pools
    assert complete(f"dctenant plan {EXAMPLE} --explain ") == tenants
    assert complete(f"dctenant plan {EXAMPLE} --explain s") == [t for t in tenants if t.startswith("s")]
    assert complete(f"dctenant report usage {EXAMPLE} --tenant ") == tenants
    assert complete("dctenant token create --tenant ") == tenants  # default quotas/ of the current directory
    assert complete("dctenant ns create --pool thr") == [p for p in pools if p.startswith("thr")]
    assert complete("dctenant pl") == ["plan"]


def test_completion_of_a_broken_quotas_directory_offers_nothing(tmp_path: pathlib.Path) -> None:
    assert complete(f"dctenant plan {tmp_path} --explain ") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell: str) -> None:
    proc = run("completion", shell)
    assert proc.returncode == 0
    assert "_DCTENANT_COMPLETE" in proc.stdout
    assert f"{shell}_complete" in proc.stdout
    assert proc.stderr == ""  # eval "$(dctenant completion bash)" in ~/.bashrc must print nothing


def test_completion_refuses_an_unknown_shell() -> None:
    proc = run("completion", "tcsh")
    assert proc.returncode == 2
