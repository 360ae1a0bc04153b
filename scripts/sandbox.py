"""A local sandbox to try every dctenant command without a cluster: ``python scripts/sandbox.py up|down|status``.

``up`` starts, on 127.0.0.1 only, the same components the integration tests start for real:

* one kmock Kubernetes emulator per pool context of ``quotas/datacentre.yaml`` (with the test
  suite's patches, ``tests/integration/kmock_cluster.py``) behind a generated kubeconfig;
* the workload simulator (``tests/integration/simulator.py``): every tenant's namespaces use half
  of their envelope, and one tenant runs 30% over its CPU envelope so that ``enforce`` has a breach;
* a real Prometheus (Debian's ``/usr/bin/prometheus``) scraping the simulator every second;
* ``dctenant serve`` (the self-service API) with a SQLite ledger in the sandbox directory.

It then applies the example to the emulated clusters, issues a tenant token, writes the
environment to ``DIR/env`` (``source`` it) and prints what to try. Everything runs in one host
process (emulators and simulator are threads of it; Prometheus and the API are its children), whose
pid is in ``DIR/host.pid``; the children's pids are in ``DIR/prometheus.pid`` and ``DIR/serve.pid``.
``down`` stops the host, which stops its children; any child left behind by a crashed host is
stopped from its pid file. Nothing is started that ``down`` does not stop.

The harness modules are imported from ``tests/integration`` rather than copied, so the sandbox
emulates exactly what the tests emulate; the sandbox therefore runs from a clone, with the
``sandbox`` (or ``test``) extra installed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DIR = ROOT / ".sandbox"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
BREACH = ("rubika", "thr-ab", "cpu", Decimal("1.3"))  # tenant, pool, resource, share of the envelope


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as stopped.
    with contextlib.suppress(OSError):
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _read_pid(path: pathlib.Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_http(url: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def host(directory: pathlib.Path, quotas: pathlib.Path) -> int:
    """The long-running side: start everything, write the environment, wait for SIGTERM, stop everything."""
    from dctenant.loaders import loading
    from dctenant.ops import planning
    from tests.integration import kmock_cluster, prometheus_harness, simulator

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    model = loading.load(quotas)
    contexts = sorted({pool.context for pool in model.datacentre.pools})
    today = dt.datetime.now(dt.UTC).date()
    allocation = planning.allocate(model, at=today)
    tenant, pool, key, share = BREACH
    loads = simulator.loads_for(model, allocation, overrides={(tenant, pool, key): share})
    with contextlib.ExitStack() as stack:
        emulators = stack.enter_context(kmock_cluster.emulators(contexts))
        kubeconfig = kmock_cluster.kubeconfig(directory / "kubeconfig", emulators)
        workload = simulator.Simulator(loads).start()
        stack.callback(workload.stop)
        # One scrape job set per pool, each labelled with the pool's cluster value, as a shared query
        # endpoint (Thanos, Mimir) would show four clusters; the simulator serves every pool's namespaces.
        prometheus = prometheus_harness.Prometheus(
            {pool.cluster_value: workload.address for pool in model.datacentre.pools}).start()
        stack.callback(prometheus.cleanup)
        if prometheus.process is not None:
            (directory / "prometheus.pid").write_text(f"{prometheus.process.pid}\n")
        port = prometheus_harness.free_port()
        ledger = directory / "ledger.db"
        with (directory / "serve.log").open("ab") as log:
            serve = subprocess.Popen(
                [sys.executable, "-m", "dctenant", "serve", str(quotas), "--listen", f"127.0.0.1:{port}",
                 "--ledger", str(ledger), "--kubeconfig", str(kubeconfig), "--prometheus", prometheus.url],
                stdout=log, stderr=log, cwd=ROOT)
        (directory / "serve.pid").write_text(f"{serve.pid}\n")

        def stop_serve() -> None:
            if serve.poll() is None:
                serve.terminate()
                try:
                    serve.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    serve.kill()
                    serve.wait()

        stack.callback(stop_serve)
        prometheus.wait_until('up{job="kube-state-metrics"} == 1', timeout=READY_TIMEOUT)
        prometheus.wait_until("container_cpu_usage_seconds_total", timeout=READY_TIMEOUT)
        server = f"http://127.0.0.1:{port}"
        _wait_http(f"{server}/healthz", timeout=READY_TIMEOUT, process=serve)
        env = {"KUBECONFIG": str(kubeconfig), "DCTENANT_QUOTAS": str(quotas), "DCTENANT_LEDGER": str(ledger),
               "DCTENANT_PROMETHEUS_URL": prometheus.url, "DCTENANT_SERVER": server}
        (directory / "env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
        (directory / "ready").write_text(f"{os.getpid()}\n")
        while not stopping.is_set() and serve.poll() is None:
            stopping.wait(0.5)
        (directory / "ready").unlink(missing_ok=True)
    for name in ("prometheus.pid", "serve.pid"):
        (directory / name).unlink(missing_ok=True)
    return 0


def _environment(directory: pathlib.Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (directory / "env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def _dctenant(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dctenant", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=300)


def tries(directory: pathlib.Path) -> list[str]:
    """The commands to try, one a line: every one runs as printed once ``DIR/env`` is sourced."""
    out = directory / "out"
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    tenant, pool, _, _ = BREACH
    return [
        f"dctenant render --out {out}/manifests --force",
        "dctenant diff",
        "dctenant apply --dry-run",
        "dctenant apply",
        "dctenant ns list",
        f"dctenant ns create {tenant}-sandbox --pool {pool} --cpu 2 --memory 4Gi",
        "dctenant enforce --once --rate-window 30s",
        f"dctenant snapshot --period {month}",
        f"dctenant report usage --period {month}",
        "dctenant audit verify",
        f"dctenant dashboards --out {out}/dashboards",
    ]


def up(directory: pathlib.Path, quotas: pathlib.Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(directory / "host.pid")
    if pid is not None and _alive(pid):
        print(f"the sandbox is already running (pid {pid}); `bash scripts/sandbox down` stops it", file=sys.stderr)
        return 1
    for stale in ("ready", "env", "host.pid", "prometheus.pid", "serve.pid"):
        (directory / stale).unlink(missing_ok=True)
    started = time.monotonic()
    with (directory / "sandbox.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, __file__, "_host", "--dir", str(directory),
                                    "--quotas", str(quotas)], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=ROOT)
    (directory / "host.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while not (directory / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            log_tail = (directory / "sandbox.log").read_text(errors="replace")[-3000:]
            print(f"the sandbox did not start; its log ({directory / 'sandbox.log'}) ends with:\n{log_tail}",
                  file=sys.stderr)
            down(directory)
            return 1
        time.sleep(0.2)
    env = _environment(directory)
    print(f"started in {time.monotonic() - started:.0f} s; applying the example", file=sys.stderr)
    applied = _dctenant(env, "apply", "-o", "json")
    if applied.returncode != 0:
        print(f"applying the example to the emulated clusters failed:\n{applied.stderr}", file=sys.stderr)
        down(directory)
        return 1
    tenant = BREACH[0]
    local = {k: v for k, v in env.items() if k != "DCTENANT_SERVER"}  # issue it locally, in the ledger
    token = _dctenant(local, "token", "create", "--tenant", tenant, "--note", "sandbox", "-o", "json")
    if token.returncode != 0:
        print(f"issuing a token for {tenant} failed:\n{token.stderr}", file=sys.stderr)
        down(directory)
        return 1
    import json

    secret = json.loads(token.stdout)["token"]
    env_file = directory / "env"
    env_file.write_text(env_file.read_text() + f"export DCTENANT_TOKEN={shlex.quote(secret)}  # {tenant}'s token\n")
    env_file.chmod(0o600)
    seconds = time.monotonic() - started
    print(f"sandbox up in {seconds:.0f} s: {len(_contexts(env['KUBECONFIG']))} emulated "
          f"clusters, Prometheus at {env['DCTENANT_PROMETHEUS_URL']}, self-service API at {env['DCTENANT_SERVER']}")
    print(f"the example is applied; {tenant} runs 30% over its CPU envelope in {BREACH[1]}.")
    print(f"\nsource {shlex.quote(str(env_file))}   # then try:")
    for line in tries(directory):
        print(f"  {line}")
    print("\nbash scripts/sandbox down   # stops everything it started")
    return 0


def _contexts(kubeconfig: str) -> list[str]:
    import yaml

    doc = yaml.safe_load(pathlib.Path(kubeconfig).read_text())
    return [c["name"] for c in doc.get("contexts", [])]


def _stop(pid: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def down(directory: pathlib.Path) -> int:
    stopped = 0
    host_pid = _read_pid(directory / "host.pid")
    if host_pid is not None and _alive(host_pid):
        # SIGTERM to the host alone: it stops Prometheus and the API server itself, in order.
        with contextlib.suppress(ProcessLookupError):
            os.kill(host_pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(host_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(host_pid):
            _stop(host_pid, group=False)
        stopped += 1
    for name in ("prometheus.pid", "serve.pid"):  # left behind only if the host itself was killed
        pid = _read_pid(directory / name)
        if pid is not None and _alive(pid):
            _stop(pid, group=False)
            stopped += 1
    for name in ("host.pid", "prometheus.pid", "serve.pid", "ready"):
        (directory / name).unlink(missing_ok=True)
    print(f"sandbox down: {'stopped ' + str(stopped) + ' process(es)' if stopped else 'nothing was running'}")
    return 0


def status(directory: pathlib.Path) -> int:
    pids = {name: _read_pid(directory / f"{name}.pid") for name in ("host", "prometheus", "serve")}
    running = {name: pid for name, pid in pids.items() if pid is not None and _alive(pid)}
    for name, pid in pids.items():
        print(f"{name}: {'running, pid ' + str(pid) if name in running else 'not running'}")
    return 0 if running else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("up", "down", "status", "_host"))
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="Sandbox state directory (default .sandbox/).")
    parser.add_argument("--quotas", default=str(ROOT / "quotas"), help="The quotas directory to apply.")
    args = parser.parse_args(argv)
    directory = pathlib.Path(args.dir).resolve()
    quotas = pathlib.Path(args.quotas).resolve()
    if args.action == "_host":
        return host(directory, quotas)
    if args.action == "up":
        return up(directory, quotas)
    if args.action == "down":
        return down(directory)
    return status(directory)


if __name__ == "__main__":
    sys.exit(main())
