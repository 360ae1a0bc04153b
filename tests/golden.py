"""One way to compare output with a golden file, and to rewrite golden files on purpose.

A golden file is a regression guard, not a proof: it pins output that other tests judge by
independent means. To accept a deliberate change, run the tests with ``DCTENANT_UPDATE_GOLDEN=1``:
each differing file is rewritten and its test then **fails**, naming the file, so an update run can
never pass by comparing a file with itself. Rerun without the variable to see them pass.
"""

from __future__ import annotations

import difflib
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent / "data" / "golden"


def updating() -> bool:
    """True only for ``DCTENANT_UPDATE_GOLDEN=1`` (any other value, "0" included, means compare)."""
    return os.environ.get("DCTENANT_UPDATE_GOLDEN") == "1"


def check(path: pathlib.Path, text: str) -> None:
    """Assert ``text`` equals the golden file at ``path``; in update mode rewrite it and fail."""
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == text:
        return
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"{path} rewritten (DCTENANT_UPDATE_GOLDEN=1); rerun without it to compare")
    if current is None:
        pytest.fail(f"{path} is missing; run with DCTENANT_UPDATE_GOLDEN=1 to write it")
    # The first differing lines, not two truncated reprs: a failure must say what changed.
    diff = "".join(list(difflib.unified_diff(current.splitlines(keepends=True), text.splitlines(keepends=True),
                                             "golden", "now", n=1))[:40])
    pytest.fail(f"{path} differs (DCTENANT_UPDATE_GOLDEN=1 rewrites it, then fails once):\n{diff}")
