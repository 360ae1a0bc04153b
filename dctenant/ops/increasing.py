"""Approved quota increases: their arithmetic, their place in the plan, and their export into ``quotas/``.

An approval is data, not a file edit: the request and its decision are rows of the self-service
database (``clients.selfservice_db``), which every replica of the service and every ``dctenant
plan`` reads. Editing ``quotas/tenants/<id>.yaml`` on approval would change one replica's checkout
only, race with a concurrent rejection, and rewrite the file's form. Instead:

- ``next_demand`` turns a request (``add`` a difference, or ``to`` an absolute demand) into the new
  demand of the named resources, refusing anything that is not an increase;
- ``overlay`` lays the approved, not yet exported increases over a loaded model, in the order they
  were decided: this is how the service's envelopes and ``dctenant plan`` take them in;
- ``check`` validates an increase as an edit of ``quotas/`` would be (the loader, on a copy);
- ``export`` writes the approved increases into the tenant files with a round-trip YAML editor
  (ruamel.yaml) that keeps comments, key order and quoting, as a patch or in place, and marks the
  requests exported: from then on ``quotas/`` carries them. Staff merge the patch like any edit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import io
import pathlib
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dctenant.clients import files, selfservice_db
from dctenant.domain import quantities, quotas, resources
from dctenant.errors import Problem, ValidationError
from dctenant.loaders import loading
from dctenant.ops.selfservice_decisions import RefusedError

ZERO = Decimal(0)
Changes = Mapping[str, Mapping[str, Decimal]]  # pool -> resource key -> new absolute demand


def next_demand(current: Mapping[str, Decimal], *, mode: str, amounts: Mapping[str, Decimal]
                ) -> dict[str, Decimal]:
    """The new demand of the resources named in ``amounts``: ``add`` them to ``current``, or set them ``to``.

    Raises ``RefusedError`` 422 when the result would not be larger for every named resource.
    """
    if mode not in ("add", "to"):
        raise RefusedError(422, "Invalid request", f"mode is add or to, not {mode!r}")
    out = {k: current.get(k, ZERO) + v if mode == "add" else v for k, v in amounts.items()}
    lower = [k for k in resources.ordered(out) if out[k] <= current.get(k, ZERO)]
    if lower:
        said = "; ".join(f"{k}: {resources.format_amount(k, current.get(k, ZERO))} now, "
                         f"{resources.format_amount(k, out[k])} asked" for k in lower)
        raise RefusedError(422, "Not an increase", f"an increase request must raise each resource it names: {said}")
    return out


def overlay(model: quotas.Quotas, approved: Iterable[selfservice_db.RequestRow]) -> quotas.Quotas:
    """``model`` with each approved request's resulting demand in place, later decisions last."""
    demand: dict[str, dict[str, dict[str, Decimal]]] = {}
    known = {t.id for t in model.tenants}
    for row in approved:
        if row.result is None or row.tenant not in known:
            continue  # a tenant removed from quotas/ since has nothing to raise
        tenant = demand.setdefault(row.tenant, {p: dict(d) for p, d in model.tenant(row.tenant).demand.items()})
        tenant.setdefault(row.pool, {}).update({k: Decimal(v) for k, v in row.result.items()})
    if not demand:
        return model
    tenants = tuple(dataclasses.replace(t, demand=demand[t.id]) if t.id in demand else t for t in model.tenants)
    return dataclasses.replace(model, tenants=tenants)


def changes_of(rows: Iterable[selfservice_db.RequestRow]) -> dict[str, dict[str, dict[str, Decimal]]]:
    """Per tenant and pool, the demand the approved rows leave (later decisions override earlier ones)."""
    out: dict[str, dict[str, dict[str, Decimal]]] = {}
    for row in rows:
        if row.result is not None:
            out.setdefault(row.tenant, {}).setdefault(row.pool, {}).update(
                {k: Decimal(v) for k, v in row.result.items()})
    return out


def tenant_file(root: pathlib.Path, tenant: str) -> pathlib.Path:
    for candidate in (root / "tenants" / f"{tenant}.yaml", root / "tenants" / f"{tenant}.yml"):
        if candidate.is_file():
            return candidate
    raise RefusedError(409, "Tenant file not found", f"{root / 'tenants' / (tenant + '.yaml')} does not exist")


def check(path: str, *, tenant: str, changes: Changes) -> None:
    """Refuse (422, with the loader's problems) a demand the loader would refuse in ``quotas/``."""
    root = pathlib.Path(path)
    file = tenant_file(root, tenant)
    text = edit(files.read_text(file) or "", changes=changes, where=str(file))
    with tempfile.TemporaryDirectory(prefix="dctenant-increase-") as tmp:
        copy = pathlib.Path(tmp) / "quotas"
        files.copy_tree(root, copy)
        files.write_atomically(copy / "tenants" / file.name, text)
        try:
            loading.load(copy)
        except ValidationError as exc:
            problems = [Problem(file=p.file.replace(str(copy), str(root)), line=p.line, field=p.field,
                                message=p.message, hint=p.hint) for p in exc.problems]
            raise RefusedError(422, "Demand not valid", "the increased demand does not pass the quotas/ validation",
                               problems=problems) from None


# Editing a tenant file without losing its form.

_SPELLING = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>[A-Za-z/]*)")


def spell(key: str, value: Decimal, *, like: Any = None) -> Any:
    """``value`` written in the unit of the value it replaces (``"6000"`` → ``"7000"``, ``20Ti`` → ``21Ti``).

    Falls back to the canonical spelling when the old unit cannot express the new value exactly.
    The result keeps the old scalar's type: an integer stays an integer, a quoted string keeps
    its quotes.
    """
    text = None
    old = None if like is None else str(like).strip()
    match = _SPELLING.fullmatch(old) if old else None
    if match is not None:
        try:
            unit = resources.parse_amount(key, "1" + match["unit"])
            count = value / unit
            if count == count.to_integral_value():
                candidate = f"{int(count)}{match['unit']}"
                if resources.parse_amount(key, candidate) == value:
                    text = candidate
        except (quantities.QuantityError, ArithmeticError):
            text = None
    if text is None:
        text = resources.format_amount(key, value)
    if isinstance(like, bool):
        return text
    if isinstance(like, int) or (like is None and key == resources.GPU):
        return int(text) if text.isdigit() else text
    if like is None and key == resources.CPU:
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        return DoubleQuotedScalarString(text)
    if like is not None and type(like) is not str and isinstance(like, str):
        return type(like)(text)  # ruamel's quoted-string types: keep the quotes
    return text


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def edit(text: str, *, changes: Changes, where: str = "tenant file") -> str:
    """The tenant file's text with ``spec.demand`` raised to ``changes``; everything else as it was."""
    yaml = _yaml()
    try:
        data = yaml.load(text)
        demand = data["spec"]["demand"]
    except Exception as exc:  # ruamel raises many types; any of them means the file is not editable
        raise RefusedError(409, "Tenant file not editable", f"{where}: no spec.demand to edit ({exc})"[:500]) from None
    for pool, amounts in changes.items():
        if pool not in demand or demand[pool] is None:
            demand[pool] = {}
        block = demand[pool]
        for key in resources.ordered(amounts):
            holder, name = _place(block, key)
            holder[name] = spell(key, amounts[key], like=holder.get(name))
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _place(block: Any, key: str) -> tuple[Any, str]:
    """Where ``key`` lives in a pool's demand block: storage and bandwidth are nested maps."""
    for prefix, group in ((resources.STORAGE_PREFIX, "storage"), (resources.BANDWIDTH_PREFIX, "bandwidth")):
        if key.startswith(prefix):
            if group not in block or block[group] is None:
                block[group] = {}
            return block[group], key.removeprefix(prefix)
    return block, key


# Export

@dataclasses.dataclass(frozen=True, kw_only=True)
class Export:
    """What ``request export`` produced: the requests, the files' old and new texts, and a unified diff."""

    requests: tuple[int, ...]
    files: Mapping[str, tuple[str, str]]  # path relative to quotas/ -> (old text, new text)
    written: bool

    @property
    def patch(self) -> str:
        out: list[str] = []
        for rel, (old, new) in sorted(self.files.items()):
            out.extend(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                            fromfile=f"a/{rel}", tofile=f"b/{rel}"))
        return "".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": list(self.requests), "files": sorted(self.files), "written": self.written,
                "patch": self.patch}


def export(path: str, *, store: selfservice_db.Store, request_ids: Sequence[int] = (), write: bool = False,
           at: dt.datetime) -> Export:
    """Export approved, not yet exported requests (all, or ``request_ids``) into the tenant files of ``path``.

    The new texts are validated by the loader first. With ``write``, the files are replaced;
    otherwise only the patch is returned. Either way the requests are marked exported.
    """
    root = pathlib.Path(path)
    with store.transaction() as tx:
        rows = tx.approved()
    if request_ids:
        wanted = set(request_ids)
        rows = [r for r in rows if r.id in wanted]
        unknown = wanted - {r.id for r in rows}
        if unknown:
            raise RefusedError(404, "Nothing to export", "not approved, or exported already: request(s) "
                               + ", ".join(str(i) for i in sorted(unknown)))
    texts: dict[str, tuple[str, str]] = {}
    for tenant, changes in changes_of(rows).items():
        file = tenant_file(root, tenant)
        old = files.read_text(file) or ""
        check(path, tenant=tenant, changes=changes)
        texts[file.relative_to(root).as_posix()] = (old, edit(old, changes=changes, where=str(file)))
    if write:
        for rel, (_old, new) in texts.items():
            files.write_atomically(root / rel, new)
    with store.transaction() as tx:
        tx.mark_exported([r.id for r in rows], at=at)
    return Export(requests=tuple(r.id for r in rows), files=texts, written=write)


def with_approved(model: quotas.Quotas, *, database: str | None = None) -> quotas.Quotas:
    """``model`` with the approved increases of the self-service database.

    The database is the ledger's at ``database``, by default ``$DCTENANT_LEDGER``; when none is
    configured, ``model`` is returned as loaded.
    """
    url = selfservice_db.store_url(database) if database else selfservice_db.configured_url()
    if url is None or ("://" not in url and not pathlib.Path(url).expanduser().is_file()):
        return model  # no database, or a SQLite file never created: nothing was approved
    store = selfservice_db.Store(url)
    try:
        with store.transaction() as tx:
            return overlay(model, tx.approved())
    finally:
        store.close()
