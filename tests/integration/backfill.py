"""A real Prometheus holding a backfilled history whose answers are known in advance.

Tests describe series as functions of time (``Series``), this module writes them as OpenMetrics,
``promtool tsdb create-blocks-from openmetrics`` turns them into TSDB blocks, and Debian's
``/usr/bin/prometheus`` is started on that directory (127.0.0.1, a free port, no scrape jobs,
retention long enough that a backfilled October is not deleted on start).
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.integration import prometheus_harness

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
CADVISOR = {"job": "kubelet", "metrics_path": "/metrics/cadvisor"}
KSM = {"job": "kube-state-metrics"}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Series:
    """One series sampled every ``every`` seconds in ``[first, last]``.

    A gauge's sample at ``t`` is ``fn(t)``. A counter starts at 0 at ``first`` and each sample adds
    ``every × fn(t)``: ``fn(t)`` is the rate in ``(t - every, t]``. ``missing(t)`` drops the sample
    at ``t`` (a scrape gap) while a counter keeps counting underneath, as a real one does.
    """

    name: str
    labels: dict[str, str]
    first: dt.datetime
    last: dt.datetime
    fn: Callable[[dt.datetime], float]
    counter: bool = False
    every: int = 60
    missing: Callable[[dt.datetime], bool] = lambda _t: False

    def samples(self) -> Iterator[tuple[dt.datetime, float]]:
        t, total, step = self.first, 0.0, dt.timedelta(seconds=self.every)
        while t <= self.last:
            if self.counter and t > self.first:
                total += self.every * self.fn(t)
            value = total if self.counter else self.fn(t)
            if not self.missing(t):
                yield t, value
            t += step


def constant(x: float) -> Callable[[dt.datetime], float]:
    return lambda _t: x


def openmetrics(series: Iterable[Series]) -> str:
    families: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        families[s.name].append(s)
    lines = []
    for name, members in families.items():
        lines.append(f"# TYPE {name} gauge")
        for s in members:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            lines += [f"{name}{{{labels}}} {v:.3f} {int(t.timestamp())}" for t, v in s.samples()]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class Backfilled:
    """Prometheus started on blocks made from ``series``."""

    def __init__(self, series: Iterable[Series]) -> None:
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="dctenant-backfill-"))
        self.port = prometheus_harness.free_port()
        source = self.directory / "history.om"
        source.write_text(openmetrics(series), encoding="utf-8")
        # One block per ~month, not the default 2 h: hundreds of small blocks take minutes to write and load.
        subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h", str(source),
                        str(self.directory / "data")], check=True, capture_output=True, timeout=600)
        source.unlink()
        (self.directory / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Backfilled:
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.directory / 'data'}", "--storage.tsdb.retention.time=100y",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited: " + (self.directory / "log").read_text()[-2000:])
            try:
                if self.query("count(up) or vector(1)")["status"] == "success":
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus did not answer within 60 s")
            time.sleep(0.2)

    def query(self, promql: str) -> dict[str, Any]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=60) as answer:
            data: dict[str, Any] = json.loads(answer.read())
            return data

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
