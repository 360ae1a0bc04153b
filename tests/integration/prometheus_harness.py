"""A real Prometheus (Debian's ``/usr/bin/prometheus``) for tests: started on 127.0.0.1, stopped after.

It listens on a free port with a temporary TSDB and scrapes the workload simulator every second
as three jobs shaped like kube-prometheus: ``kubelet`` twice (``metrics_path`` ``/metrics/cadvisor``
and ``/metrics``, set by relabelling as kube-prometheus does) and ``kube-state-metrics``, so that
dctenant's default job selectors are the ones under test. ``honor_labels`` keeps the exporter's
``namespace`` and ``pod`` labels as they are.
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
from typing import Any

import yaml

BINARY = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config(target: str, *, interval: str = "1s") -> dict[str, Any]:
    def job(name: str, path: str, job_label: str, path_label: str | None) -> dict[str, Any]:
        relabel = [{"target_label": "job", "replacement": job_label}]
        if path_label:
            relabel.append({"target_label": "metrics_path", "replacement": path_label})
        return {"job_name": name, "metrics_path": path, "honor_labels": True, "scrape_interval": interval,
                "static_configs": [{"targets": [target]}], "relabel_configs": relabel}

    return {"global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [job("kubelet-cadvisor", "/metrics/cadvisor", "kubelet", "/metrics/cadvisor"),
                               job("kubelet", "/metrics", "kubelet", "/metrics"),
                               job("kube-state-metrics", "/metrics/ksm", "kube-state-metrics", None)]}


class Prometheus:
    """One Prometheus process; ``query`` asks it directly (for waiting and for the benchmark)."""

    def __init__(self, target: str, *, interval: str = "1s") -> None:
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="dctenant-prometheus-"))
        self.port = free_port()
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(config(target, interval=interval)))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [BINARY, f"--config.file={self.directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
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
