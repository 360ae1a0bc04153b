"""A real Prometheus over a history written beforehand: OpenMetrics → ``promtool tsdb create-blocks-from``.

Tests of statistics over days (reclaim's p95 and peaks, forecasts) need a history whose answers
are known. The test writes the samples, promtool turns them into TSDB blocks, and Prometheus is
started on that directory (no scraping) with a retention long enough to keep them.
"""

from __future__ import annotations

import pathlib
import subprocess
import tempfile
from collections.abc import Iterable

from tests.integration import prometheus_harness

PROMTOOL = "/usr/bin/promtool"


Series = Iterable[tuple[str, Iterable[tuple[int, float]]]]


def write_openmetrics(path: pathlib.Path, families: dict[str, tuple[str, Series]]) -> None:
    """``families``: name → (type, [(labels text, [(unix seconds, value), …]), …])."""
    with path.open("w", encoding="utf-8") as out:
        for name, (kind, series) in families.items():
            out.write(f"# TYPE {name} {kind}\n")
            for labels, samples in series:
                for t, v in samples:
                    out.write(f"{name}{{{labels}}} {v!r} {t}\n")
        out.write("# EOF\n")


class Backfilled(prometheus_harness.Prometheus):
    """A Prometheus that only serves the backfilled blocks (its scrape list is empty)."""

    def __init__(self, openmetrics: pathlib.Path) -> None:
        super().__init__("127.0.0.1:1")
        (self.directory / "prometheus.yml").write_text("global: {scrape_interval: 1h}\nscrape_configs: []\n")
        data = self.directory / "data"
        data.mkdir()
        subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data)],
                       check=True, capture_output=True, timeout=300)

    def start(self) -> Backfilled:
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [prometheus_harness.BINARY, f"--config.file={self.directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.directory / 'data'}", "--storage.tsdb.retention.time=3650d",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        return self


def scratch() -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix="dctenant-backfill-"))
