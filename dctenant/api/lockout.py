"""A cap on failed authentications per client address, shared by the API and the portal's login.

Tokens carry 256 random bits, so guessing one is hopeless at any rate; what an unlimited stream of
bad tokens does cost is a database lookup per attempt and a flood in the logs. After ``limit``
failures from one address within ``window`` seconds, that address is answered 429 (with
``Retry-After``) without touching the database until the oldest failure leaves the window. A
success does not clear the count: a caller holding one valid token cannot use it to reset
guessing at others.

The count is per process and in memory (a restart forgets it; several workers each count on their
own): it bounds one server's work, and a proxy in front still rate-limits the way it limits any
public endpoint. The address is the ASGI client address, which uvicorn takes from
``X-Forwarded-For`` only when the proxy is in ``--forwarded-allow-ips`` (127.0.0.1 by default).
At most ``tracked`` addresses are remembered; beyond that the stalest are dropped, so a spray of
addresses cannot grow memory without bound.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

LIMIT = 60
"""Failed authentications allowed per address within ``WINDOW``."""
WINDOW = 60.0
"""Seconds a failure counts for."""
TRACKED = 10_000
"""Addresses remembered at most."""


class Lockout:
    """Failures per address in a sliding window; thread-safe (the checks run in the thread pool)."""

    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW, tracked: int = TRACKED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.tracked = tracked
        self.clock = clock
        self._failures: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def wait(self, address: str) -> int:
        """Whole seconds ``address`` must wait before it may try again; 0 when it may try now."""
        with self._lock:
            times = self._recent(address, self.clock())
            if times is None or len(times) < self.limit:
                return 0
            # The window is half-open: a failure at t counts during [t, t + window).
            return max(1, math.ceil(times[0] + self.window - self.clock()))

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = collections.deque()
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.tracked:
                self._failures.popitem(last=False)

    def _recent(self, address: str, now: float) -> collections.deque[float] | None:
        """The failures of ``address`` still inside the window (older ones dropped), or None."""
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] + self.window <= now:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times
