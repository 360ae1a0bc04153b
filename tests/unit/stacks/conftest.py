"""Make the stack program and the policy pack importable, and give every test a clean Pulumi runtime.

``stacks/datacentre`` and ``stacks/policy`` are Pulumi projects, not packages of dctenant: Pulumi
runs them with their directory on ``sys.path``, and so do these tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from tests.unit.stacks import harness

for directory in (REPO / "stacks" / "datacentre", REPO / "stacks" / "policy"):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))


@pytest.fixture(autouse=True)
def clean_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's mocks, config or root stack; none sees the caller's quotas override."""
    harness.clean_environment(monkeypatch)
    harness.reset_runtime()
    yield
    harness.reset_runtime()
