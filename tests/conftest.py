"""Shared fixtures: a private copy of the shipped ``quotas/`` that a test may break in one place.

Tests of the loader break one thing in a copy of the valid example and check the problem the
loader reports: its exact file, line and field. Expected lines are looked up in the edited text
(``QuotasCopy.line``), so the tests stay exact without hard-coding the example's line numbers.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from dctenant.domain import quotas as quota_model
from dctenant.errors import Problem, ValidationError
from dctenant.loaders import loading

REPO = pathlib.Path(__file__).resolve().parent.parent

# No test reads or writes the developer's own configuration or state: an audit key in
# ~/.config/dctenant would make every ledger a test opens sign checkpoints (and reports embed them),
# and a ledger in ~/.local/state would outlive the run. Set before anything reads them; subprocesses
# inherit them.
_PRIVATE = tempfile.mkdtemp(prefix="dctenant-tests-home-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_PRIVATE, "config")
os.environ["XDG_STATE_HOME"] = os.path.join(_PRIVATE, "state")
for _name in ("DCTENANT_AUDIT_KEY", "DCTENANT_AUDIT_KEY_FILE", "DCTENANT_LEDGER", "DCTENANT_QUOTAS"):
    os.environ.pop(_name, None)

# Tests that run the ``dctenant`` console script find the one installed beside the interpreter
# running them (the project's .venv), whether or not that environment was activated.
_BIN = str(pathlib.Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
EXAMPLE = REPO / "quotas"

# Property tests must catch a planted bug on every run, not on some runs: the "ci" profile, loaded by
# default, draws the same examples every time (derandomize); 100 by default, and the allocator's
# properties ask for more where a planted bug needs them. No deadline: CI machines are shared and
# their timing varies.
# DCTENANT_HYPOTHESIS_PROFILE=explore draws fresh random examples (and more of them) when hunting bugs.
settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
# scripts/mutate runs the tests once per mutant: "mutate" draws fewer examples (still the same ones
# every run), so that its kill ratio is reproducible and a run takes minutes, not hours.
settings.register_profile("mutate", derandomize=True, max_examples=20, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("DCTENANT_HYPOTHESIS_PROFILE", "ci"))


class QuotasCopy:
    """A copy of ``quotas/`` in a temporary directory, with helpers to edit it and load it."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root

    def path(self, rel: str) -> pathlib.Path:
        return self.root / rel

    def file(self, rel: str) -> str:
        """The file name as the loader reports it."""
        return str(self.root / rel)

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        self.path(rel).write_text(text, encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in ``rel`` by ``new`` (fails if not exactly one)."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.write(rel, text.replace(old, new))

    def line(self, rel: str, text: str) -> int:
        """The 1-based line of the one line of ``rel`` that equals ``text`` (after its edits)."""
        found = [i for i, ln in enumerate(self.read(rel).splitlines(), start=1) if ln == text]
        assert len(found) == 1, f"{text!r} is on lines {found} of {rel}"
        return found[0]

    def load(self) -> quota_model.Quotas:
        return loading.load(self.root)

    def problems(self) -> tuple[Problem, ...]:
        with pytest.raises(ValidationError) as caught:
            loading.load(self.root)
        return caught.value.problems

    def only_problem(self) -> Problem:
        found = self.problems()
        assert len(found) == 1, "\n".join(str(p) for p in found)
        return found[0]


@pytest.fixture
def qcopy(tmp_path: pathlib.Path) -> QuotasCopy:
    root = tmp_path / "quotas"
    shutil.copytree(EXAMPLE, root)
    return QuotasCopy(root)


@pytest.fixture(autouse=True)
def _private_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that record in the audit ledger write to a per-test state directory, never the user's."""
    monkeypatch.delenv("DCTENANT_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
