"""The domain lists every kind of audit event dctenant records, and the docs list the same kinds."""

from __future__ import annotations

import ast
import pathlib
import re

from dctenant.domain import audit_events

PACKAGE = pathlib.Path(audit_events.__file__).parents[1]
DOCS = PACKAGE.parent / "docs" / "audit.md"
# Calls that record an event, and where their kind is: a keyword, or the first argument of _record.
RECORDERS = {"append", "Draft"}


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(audit_events).items()
            if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z]+(-[a-z]+)+", value)}


def test_kinds_hold_every_kind_constant_once() -> None:
    kinds = {v for k, v in _constants().items() if k != "GENESIS"}
    assert set(audit_events.KINDS) == kinds
    assert len(audit_events.KINDS) == len(kinds)
    assert audit_events.LEASE_TAKEN_OVER == "lease-taken-over" and "lease-taken-over" in audit_events.KINDS


def _kind_expressions() -> list[tuple[str, ast.expr, dict[str, ast.expr]]]:
    """Every expression passed as an event kind in dctenant, with its module's top-level assignments."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
               for t in node.targets if isinstance(t, ast.Name)}
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name in RECORDERS:
                found += [(str(path), k.value, top) for k in call.keywords if k.arg == "kind"]
            elif name == "_record" and call.args:
                found.append((str(path), call.args[0], top))
    return found


def test_every_recorded_kind_is_named_from_the_domain() -> None:
    expressions = _kind_expressions()
    assert len(expressions) >= 10  # the scan finds the recording sites (it would pass vacuously otherwise)
    for path, given, top in expressions:
        # A module constant: follow it once.
        expr = top[given.id] if isinstance(given, ast.Name) and given.id in top else given
        texts = [n for n in ast.walk(expr) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        assert not texts, f"{path}:{expr.lineno}: a kind written as text; name it from domain.audit_events"
        for named in (n for n in ast.walk(expr) if isinstance(n, ast.Attribute)):
            if isinstance(named.value, ast.Name) and named.value.id == "audit_events":
                assert getattr(audit_events, named.attr) in audit_events.KINDS, f"{path}:{expr.lineno}"


def test_the_audit_docs_list_every_kind() -> None:
    row = next(line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith("| `kind` |"))
    listed = re.findall(r"`([a-z]+(?:-[a-z]+)+)`", row)
    assert sorted(listed) == sorted(audit_events.KINDS)
