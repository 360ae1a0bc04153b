"""The local sandbox end to end: ``bash scripts/sandbox up``, every command it suggests, ``down``.

The sandbox is started through its bash entry point (with ``DCTENANT_PYTHON`` set to this
interpreter, so no venv is built), in a temporary state directory. Every command ``up`` prints
under "then try" is run as printed, with the environment file it wrote, and must succeed; then
``down`` must leave none of the processes it started running and their ports closed.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def sandbox(*args: str, directory: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCTENANT_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", str(ROOT / "scripts" / "sandbox"), *args, "--dir", str(directory)],
                          capture_output=True, text=True, check=False, env=env, timeout=600)


def environment(directory: pathlib.Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (directory / "env").read_text(encoding="utf-8").splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value, comments=True)[0]
    return env


def pids(directory: pathlib.Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in directory.glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def listening(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parsed.hostname or "127.0.0.1", parsed.port or 80)) == 0


@pytest.fixture
def state(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    directory = tmp_path / "sandbox"
    yield directory
    sandbox("down", directory=directory)  # whatever the test did, leave nothing running


def test_sandbox_up_try_everything_down(state: pathlib.Path) -> None:
    up = sandbox("up", directory=state)
    assert up.returncode == 0, up.stderr + up.stdout
    started = pids(state)
    assert set(started) == {"host", "prometheus", "serve"}
    assert all(alive(pid) for pid in started.values())
    env = environment(state)
    urls = [env["DCTENANT_PROMETHEUS_URL"], env["DCTENANT_SERVER"]]
    assert all(urllib.parse.urlsplit(u).hostname == "127.0.0.1" for u in urls)
    assert all(listening(u) for u in urls)
    assert (state / "env").stat().st_mode & 0o077 == 0  # it holds a token: private to its owner
    kubeconfig = pathlib.Path(env["KUBECONFIG"]).read_text(encoding="utf-8")
    clusters = re.findall(r"server: (http://127\.0\.0\.1:\d+)", kubeconfig)
    assert len(clusters) == 4 and all(listening(u) for u in clusters)  # one emulator per pool of the example

    tries = [line.strip() for line in up.stdout.split("then try:", 1)[1].split("\n\n", 1)[0].splitlines()
             if line.strip()]
    verbs = {" ".join(t.split()[1:3]) if t.split()[1] in ("ns", "audit") else t.split()[1] for t in tries}
    assert verbs >= {"render", "diff", "apply", "ns create", "enforce", "snapshot", "report", "audit verify",
                     "dashboards"}
    outputs: dict[str, str] = {}
    for line in tries:
        argv = shlex.split(line)
        assert argv[0] == "dctenant"
        proc = subprocess.run([sys.executable, "-m", "dctenant", *argv[1:]], capture_output=True, text=True,
                              check=False, timeout=300, cwd=ROOT,
                              env={**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "120"})
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs[line] = proc.stdout + proc.stderr

    # What the sandbox promises: the example is applied, the simulated breach is seen, the chain holds.
    diff = next(v for k, v in outputs.items() if k == "dctenant diff")
    assert re.search(r"0 to create, 0 to update", diff)
    enforce = " ".join(next(v for k, v in outputs.items() if k.startswith("dctenant enforce")).split())
    assert re.search(r"rubika │ thr-ab │ cpu │ (warning|breach)", enforce)
    created = next(v for k, v in outputs.items() if k.startswith("dctenant ns create"))
    assert "rubika-sandbox" in created
    listed = subprocess.run([sys.executable, "-m", "dctenant", "ns", "list", "-o", "json"], capture_output=True,
                            text=True, check=True, timeout=120, cwd=ROOT,
                            env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    assert "rubika-sandbox" in {n["name"] for n in json.loads(listed.stdout)["namespaces"]}
    assert re.search(r"\d+ events, chain intact", next(v for k, v in outputs.items() if "audit verify" in k))

    status = sandbox("status", directory=state)
    assert status.returncode == 0 and status.stdout.count("running, pid") == 3

    down = sandbox("down", directory=state)
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in started.values())
    assert not any(listening(u) for u in [*urls, *clusters])
    assert not list(state.glob("*.pid"))
    assert sandbox("status", directory=state).returncode == 3
    assert "nothing was running" in sandbox("down", directory=state).stdout


def test_sandbox_refuses_a_second_up_and_down_is_idempotent(state: pathlib.Path) -> None:
    state.mkdir(parents=True)
    with subprocess.Popen(["sleep", "60"]) as stand_in:  # plays a sandbox host that is still running
        (state / "host.pid").write_text(f"{stand_in.pid}\n")
        second = sandbox("up", directory=state)
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert sandbox("down", directory=state).stdout.startswith("sandbox down: stopped 1 process")
        assert stand_in.wait(timeout=30) != 0  # stopped by down's SIGTERM
    assert "nothing was running" in sandbox("down", directory=state).stdout


def test_readme_presents_the_sandbox() -> None:
    assert "bash scripts/sandbox up" in README and "bash scripts/sandbox down" in README
