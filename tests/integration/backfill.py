"""A real Prometheus holding a backfilled history whose answers are known in advance.

Tests of statistics over days and months (reports, reclaim's p95 and peaks, forecasts) describe
their history either as functions of time (``Series``, ``openmetrics``) or as samples written out
(``samples_openmetrics``). ``started`` has ``prometheus_harness.Prometheus`` turn it into TSDB blocks
(``promtool tsdb create-blocks-from openmetrics``) and start Debian's ``/usr/bin/prometheus`` on
them (127.0.0.1, a free port, no scrape jobs, retention long enough that a backfilled October is
not deleted on start).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tests.integration import prometheus_harness

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


Samples = Iterable[tuple[str, Iterable[tuple[int, float]]]]


def samples_openmetrics(families: dict[str, tuple[str, Samples]]) -> str:
    """OpenMetrics from samples written out: name → (type, [(labels text, [(unix seconds, value), …]), …])."""
    lines = []
    for name, (kind, series) in families.items():
        lines.append(f"# TYPE {name} {kind}")
        lines += [f"{name}{{{labels}}} {v!r} {t}" for labels, samples in series for t, v in samples]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def started(openmetrics_text: str, *, max_block_duration: str | None = None) -> prometheus_harness.Prometheus:
    """A Prometheus that only serves ``openmetrics_text`` (no scrape jobs), started and answering.

    The retention is a century, so that a history of past months is not deleted on start. The
    caller calls ``cleanup()``.
    """
    server = prometheus_harness.Prometheus(retention="100y")
    try:
        server.backfill(openmetrics_text, max_block_duration=max_block_duration)
        server.start().wait_until("vector(1)", timeout=60)
    except BaseException:
        server.cleanup()
        raise
    return server
