"""A real Prometheus (Debian's ``/usr/bin/prometheus``) for tests: started on 127.0.0.1, stopped after.

It listens on a free port with a temporary TSDB and scrapes the workload simulator every second
as three jobs shaped like kube-prometheus: ``kubelet`` twice (``metrics_path`` ``/metrics/cadvisor``
and ``/metrics``, set by relabelling as kube-prometheus does) and ``kube-state-metrics``, so that
dctenant's default job selectors are the ones under test. ``honor_labels`` keeps the exporter's
``namespace`` and ``pod`` labels as they are.

Several simulators may be scraped at once, one per cluster: each target's series get a ``cluster``
label (as a Thanos Query or Mimir shows each cluster's external label), so one Prometheus plays a
shared query endpoint. ``backfill`` writes history with ``promtool tsdb create-blocks-from
openmetrics`` before the start (``tests.integration.backfill`` writes such histories and starts a
Prometheus that only serves them).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import yaml

BINARY = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


CLUSTER = "thr-ab"  # the example's first pool: dctenant's default cluster label value for it


def config(targets: str | Mapping[str, str], *, interval: str = "1s") -> dict[str, Any]:
    """Scrape configuration: ``targets`` maps a cluster label value to a simulator's address."""
    chosen = {CLUSTER: targets} if isinstance(targets, str) else dict(targets)

    def job(name: str, path: str, job_label: str, path_label: str | None) -> list[dict[str, Any]]:
        out = []
        for cluster, target in sorted(chosen.items()):
            relabel = [{"target_label": "job", "replacement": job_label}]
            if path_label:
                relabel.append({"target_label": "metrics_path", "replacement": path_label})
            if cluster:
                relabel.append({"target_label": "cluster", "replacement": cluster})
            out.append({"job_name": f"{name}-{cluster}" if cluster else name, "metrics_path": path,
                        "honor_labels": True, "scrape_interval": interval, "scrape_timeout": interval,
                        "static_configs": [{"targets": [target]}], "relabel_configs": relabel})
        return out

    return {"global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [*job("kubelet-cadvisor", "/metrics/cadvisor", "kubelet", "/metrics/cadvisor"),
                               *job("kubelet", "/metrics", "kubelet", "/metrics"),
                               *job("kube-state-metrics", "/metrics/ksm", "kube-state-metrics", None)]}


class Prometheus:
    """One Prometheus process; ``query`` asks it directly (for waiting and for the benchmark)."""

    def __init__(self, target: str | Mapping[str, str] = (), *, interval: str = "1s",
                 query_log: bool = False, retention: str | None = None) -> None:
        """``retention``: ``--storage.tsdb.retention.time``; a backfilled history older than the
        default 15 days needs more, or Prometheus deletes it on start."""
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="dctenant-prometheus-"))
        self.port = free_port()
        self.retention = retention
        settings = config(target, interval=interval) if target else {"global": {"evaluation_interval": interval}}
        if query_log:
            settings["global"]["query_log_file"] = str(self.query_log)
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(settings))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def query_log(self) -> pathlib.Path:
        return self.directory / "queries.log"

    def backfill(self, openmetrics: str, *, max_block_duration: str | None = None) -> None:
        """History before the start: ``promtool tsdb create-blocks-from openmetrics`` into the TSDB.

        ``max_block_duration`` (like ``744h``) writes fewer, larger blocks than the default 2 h: a
        history of months in 2-hour blocks takes minutes to write and to load.
        """
        source = self.directory / "history.om"
        source.write_text(openmetrics, encoding="utf-8")
        blocks = [f"--max-block-duration={max_block_duration}"] if max_block_duration else []
        done = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", *blocks, str(source),
                               str(self.directory / "data")], capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        source.unlink()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [BINARY, f"--config.file={self.directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 *([f"--storage.tsdb.retention.time={self.retention}"] if self.retention else []),
                 "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        return self

    def query(self, promql: str, **params: str) -> dict[str, Any]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql, **params})
        with urllib.request.urlopen(url, timeout=30) as answer:
            data: dict[str, Any] = json.loads(answer.read())
            return data

    def wait_until(self, promql: str, *, count: int = 1, timeout: float = 30.0) -> None:
        """Until ``promql`` returns at least ``count`` series (Prometheus up and the data scraped)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("prometheus exited: " + (self.directory / "log").read_text()[-2000:])
            try:
                if len(self.query(promql)["data"]["result"]) >= count:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {count} series for {promql} after {timeout} s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
