"""Approving a quota-increase request: the tenant's demand changes in ``quotas/``, validated like any edit.

``quotas/`` stays the single source of truth, so an approved increase is written into
``quotas/tenants/<id>.yaml`` rather than kept as a database override that ``dctenant plan`` and
``apply`` would not see. The new file is first validated with the whole data centre by the same
loader (``loaders.loading.load`` on a copy of the directory with the new file in place): a demand
the loader would refuse is refused here, with the loader's problems. Only then is the tenant file
replaced, atomically. Only the ``spec.demand`` block is rewritten; comments elsewhere are kept
(comments inside that block are not). Staff commit the change like any other edit.
"""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from dctenant.clients import files
from dctenant.domain import resources
from dctenant.errors import ValidationError
from dctenant.loaders import documents, loading
from dctenant.ops.selfservice_decisions import RefusedError


def apply(path: str, *, tenant: str, pool: str, demand: Mapping[str, Decimal]) -> tuple[dict[str, str], dict[str, str]]:
    """Raise ``tenant``'s demand in ``pool`` to ``demand`` (named resources only); returns (before, after)."""
    root = pathlib.Path(path)
    model = loading.load(root)
    current = dict(model.tenant(tenant).demand.get(pool, {}))
    merged = {**current, **demand}
    everything = {p: dict(d) for p, d in model.tenant(tenant).demand.items()}
    everything[pool] = merged
    file = next((f for f in (root / "tenants" / f"{tenant}.yaml", root / "tenants" / f"{tenant}.yml")
                 if f.is_file()), None)
    if file is None:
        raise RefusedError(409, "Tenant file not found", f"quotas/tenants/{tenant}.yaml does not exist")
    text = rewrite(file, demand=everything)
    with tempfile.TemporaryDirectory(prefix="dctenant-increase-") as tmp:
        copy = pathlib.Path(tmp) / "quotas"
        files.copy_tree(root, copy)
        files.write_atomically(copy / "tenants" / file.name, text)
        try:
            loading.load(copy)
        except ValidationError as exc:
            problems = [p.__class__(file=p.file.replace(str(copy), str(root)), line=p.line, field=p.field,
                                    message=p.message, hint=p.hint) for p in exc.problems]
            raise RefusedError(422, "Demand not valid", "the increased demand does not pass the quotas/ validation",
                          problems=problems) from None
    files.write_atomically(file, text)
    plain = {k: resources.plain(v) for k, v in current.items()}
    return plain, {k: resources.plain(merged[k]) for k in resources.ordered(merged)}


def rewrite(file: pathlib.Path, *, demand: Mapping[str, Mapping[str, Decimal]]) -> str:
    """The tenant file's text with its ``spec.demand`` block replaced by ``demand`` (other lines kept)."""
    document, problems = documents.read(file, display=str(file))
    if document is None:
        raise RefusedError(409, "Tenant file not valid", "; ".join(str(p) for p in problems))
    line = document.lines.get(("spec", "demand"))
    lines = (files.read_text(file) or "").splitlines(keepends=True)
    if line is None:
        raise RefusedError(409, "Tenant file has no demand", f"{file} has no spec.demand")
    start = line - 1
    while start >= 0 and not lines[start].lstrip().startswith("demand:"):
        start -= 1  # the line recorded may be the value's; the key is at or before it
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and len(lines[end]) - len(lines[end].lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep the blank lines that separated the block from the next key
    block = yaml.safe_dump({"demand": {p: _shape(d) for p, d in demand.items()}}, sort_keys=False,
                           allow_unicode=True, default_flow_style=False, width=2**16)
    body = "".join(" " * indent + ln + "\n" for ln in block.splitlines())
    return "".join(lines[:start]) + body + "".join(lines[end:])


def _shape(amounts: Mapping[str, Decimal]) -> dict[str, Any]:
    """A flat resource map in the nested form of quotas/ (storage and bandwidth grouped), canonical spelling."""
    out: dict[str, Any] = {}
    for key in resources.ordered(amounts):
        text = resources.format_amount(key, amounts[key])
        if key.startswith(resources.STORAGE_PREFIX):
            out.setdefault("storage", {})[key.removeprefix(resources.STORAGE_PREFIX)] = text
        elif key.startswith(resources.BANDWIDTH_PREFIX):
            out.setdefault("bandwidth", {})[key.removeprefix(resources.BANDWIDTH_PREFIX)] = text
        else:
            out[key] = text
    return out
