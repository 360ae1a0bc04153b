"""The worked example in docs/audit.md: one event hashed by hand, checked here three ways.

The expected text and hashes are read from the page itself, so the documentation cannot drift
from the code: hashlib recomputes the page's hashes from the page's text (independently of the
product), and the product must produce exactly that text's hash and Merkle leaf for the event.
"""

from __future__ import annotations

import hashlib
import pathlib
import re

from dctenant.clients import ledger_db
from dctenant.engine import chaining

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "audit.md"


def _vector() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    canonical = re.search(r"<!-- vector:text -->\n```\n(.+)\n```", text)
    digest = re.search(r"<!-- vector:hash -->\n`([0-9a-f]{64})`", text)
    leaf = re.search(r"<!-- vector:leaf -->\n`([0-9a-f]{64})`", text)
    assert canonical and digest and leaf, "the worked example is missing from docs/audit.md"
    return {"text": canonical.group(1), "hash": digest.group(1), "leaf": leaf.group(1)}


def test_the_pages_hashes_follow_from_its_text() -> None:
    v = _vector()
    assert hashlib.sha256(v["text"].encode("utf-8")).hexdigest() == v["hash"]
    assert hashlib.sha256(b"\x00" + bytes.fromhex(v["hash"])).hexdigest() == v["leaf"]


def test_the_product_hashes_the_event_as_the_page_says(tmp_path: pathlib.Path) -> None:
    import datetime as dt

    v = _vector()
    fields = {"seq": 1, "at": "2026-11-27T08:00:00.000000Z", "kind": "quota-changed", "actor": "ops@ndc",
              "subject": chaining.canonical({"tenant": "bale", "pool": "thr-ab"}),
              "before": chaining.canonical({"cpu": "2"}), "after": chaining.canonical({"cpu": "3"}),
              "reason": "renewal", "prev": "0" * 64}
    assert chaining.event_hash(**fields) == v["hash"]
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"), signer=None)
    event = ledger.append(kind="quota-changed", actor="ops@ndc", subject={"tenant": "bale", "pool": "thr-ab"},
                          before={"cpu": "2"}, after={"cpu": "3"}, reason="renewal",
                          at=dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC))
    assert event.hash == v["hash"]
    assert ledger.tree_root(1).hex() == v["leaf"]  # a tree of one leaf has that leaf as its root
    ledger.close()
