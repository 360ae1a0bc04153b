"""Check the bare package (no extras): every command's ``--help`` and one basic call of each.

Run by ``scripts/bare-check`` with the interpreter of a venv holding only ``pip install dctenant``.
A call passes when it exits 0, 1 or 3 with no traceback (1 is a clean error message, e.g. a server
that is not there), or exits 4 with exactly one line on stderr that names what to install. A
command without a basic call below gets a warning (its --help is still checked).
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import time

import click

from dctenant.cli import main

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: network calls fail fast and cleanly
AT = "2026-11-27"


def basic_calls(work: pathlib.Path) -> dict[str, list[str]]:
    quotas, ledger = str(work / "quotas"), str(work / "ledger.db")
    return {
        "validate": ["validate", quotas],
        "show": ["show", quotas, "--at", AT],
        "plan": ["plan", quotas, "--at", AT],
        "render": ["render", quotas, "--at", AT, "--out", str(work / "rendered")],
        "diff": ["diff", quotas, "--kubeconfig", str(work / "no-kubeconfig")],
        "apply": ["apply", quotas, "--dry-run", "--kubeconfig", str(work / "no-kubeconfig")],
        "stack": ["stack", "preview", quotas, "--pool", "thr-ab"],
        "enforce": ["enforce", quotas, "--prometheus", DEAD, "--once", "--at", AT, "--ledger", ledger,
                    "--state", str(work / "state.json"), "--timeout", "2"],
        "audit": ["audit", "verify", "--ledger", ledger],
        "snapshot": ["snapshot", quotas, "--period", "2026-10", "--prometheus", DEAD, "--ledger", ledger],
        "report": ["report", "allocation", quotas, "--period", "2026-11", "--ledger", ledger],
        "serve": ["serve", quotas, "--ledger", ledger, "--listen", "127.0.0.1:0"],
        "token": ["token", "list", quotas, "--ledger", ledger],
        "ns": ["ns", "list", "--server", DEAD, "--token", "x"],
        "request": ["request", "list", "--server", DEAD, "--token", "x"],
        "dashboards": ["dashboards", quotas, "--out", str(work / "dashboards")],
        "reclaim": ["reclaim", quotas, "--prometheus", DEAD, "--at", AT],
        "forecast": ["forecast", quotas, "--at", AT, "--ledger", ledger],
        "completion": ["completion", "bash"],
    }


def paths(command: click.Command, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every command path: ``("audit",)``, ``("audit", "verify")``, …"""
    found = [prefix]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                found.extend(paths(sub, (*prefix, name)))
    return found


def judge(args: list[str], *, timeout: float = 120) -> str | None:
    """None when the call passes, else why it fails."""
    try:
        proc = subprocess.run([sys.executable, "-m", "dctenant", *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"did not finish in {timeout:.0f} s"
    if "Traceback" in proc.stderr:
        return "traceback:\n" + proc.stderr[-1500:]
    if proc.returncode in (0, 1, 3):
        return None
    lines = proc.stderr.strip().splitlines()
    if proc.returncode == 4 and len(lines) == 1 and ("pip install" in lines[0] or "pulumi" in lines[0]):
        return None
    return f"exit {proc.returncode}:\n{proc.stderr[-1500:]}"


def main_check(work: pathlib.Path) -> int:
    calls = basic_calls(work)
    failures: list[str] = []
    started = time.monotonic()
    command_paths = paths(main.cli, ())
    for path in command_paths:
        why = judge([*path, "--help"])
        if why:
            failures.append(f"dctenant {' '.join(path)} --help: {why}")
    for name in main.COMMANDS:
        if name not in calls:
            # Branches merged together add commands: say so loudly, but --help has been checked.
            print(f"  {name:<11} WARNING: no basic call in scripts/bare_check.py (only --help checked); add one",
                  flush=True)
            continue
        why = judge(calls[name])
        print(f"  {name:<11} {'ok' if why is None else 'FAILED'}", flush=True)
        if why:
            failures.append(f"dctenant {' '.join(calls[name])}: {why}")
    print(f"bare package: {len(command_paths)} --help and {len(calls)} basic calls in "
          f"{time.monotonic() - started:.0f} s; {len(failures)} failure(s)")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="Scratch directory holding a copy of quotas/.")
    sys.exit(main_check(pathlib.Path(parser.parse_args().work)))
