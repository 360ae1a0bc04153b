"""``dctenant plan --what-if CHANGES.yaml``: the allocation before and after a set of edits to ``quotas/``.

The edits are made to a private copy of the quotas documents (``loaders.whatif_files``), and the
copy's texts are loaded as the ordinary loader would load them (``loading.load_texts``, as from a
directory holding them), so the "after" side is exactly ``dctenant plan`` on an edited copy: same
validation, same allocator, same rounding. ``loaders.quota_edits`` gives that same model by loading
again only the files whose text (or whose context: tiers, pools) changed, with the loader's own
functions, and hands over to the full load at any problem so that it is worded by the loader; a
what-if on 10,000 tenants does not walk the 9,999 files it did not touch. Nothing in the real
``quotas/`` is touched. ``render --what-if`` uses the same two models to diff the manifests.
"""

from __future__ import annotations

import datetime as dt
import difflib
import pathlib
from dataclasses import dataclass
from typing import Any

from dctenant.domain import allocations, quotas, resources, whatif
from dctenant.engine import comparing
from dctenant.loaders import loading, quota_edits, whatif_files
from dctenant.ops import increasing, planning, rendering
from dctenant.render import explanations, kubernetes

EXPLAINED_LOSERS = 3


@dataclass(frozen=True, kw_only=True)
class WhatIfResult:
    changes: tuple[whatif.Change, ...]
    before: planning.PlanResult
    after: planning.PlanResult
    comparison: whatif.Comparison
    explanations: dict[str, tuple[str, ...]]  # the largest losers' --explain text, after the change

    @property
    def below_guarantee(self) -> bool:
        """True when a served tenant gets less than its guarantee after the change (``--exit-code`` → 3)."""
        return bool(self.comparison.below_guarantee)

    def as_dict(self) -> dict[str, Any]:
        plain = resources.plain
        c = self.comparison
        return {
            "kind": "WhatIfPlan",
            "at": self.after.allocation.at.isoformat(),
            "changes": [{"op": ch.op, "where": ch.location, "summary": ch.describe()} for ch in self.changes],
            "envelopes": [
                {"tenant": e.tenant, "pool": e.pool, "resource": e.resource,
                 "before": None if e.before is None else plain(e.before),
                 "after": None if e.after is None else plain(e.after),
                 "delta": plain(e.delta), "ratio": None if e.ratio is None else f"{e.ratio:.6f}"}
                for e in c.envelopes
            ],
            "belowGuarantee": [{"tenant": m.tenant, "pool": m.pool, "resources": list(m.resources), "new": m.new}
                               for m in c.below_guarantee],
            "states": [{"tenant": s.tenant, "before": s.before, "after": s.after} for s in c.states],
            "losers": list(c.losers),
            "explanations": {t: list(lines) for t, lines in self.explanations.items()},
            "before": self.before.allocation.as_dict(),
            "after": self.after.allocation.as_dict(),
        }


def changed_model(path: str, changes_file: str, *, model: quotas.Quotas | None = None
                  ) -> tuple[tuple[whatif.Change, ...], quotas.Quotas]:
    """The data centre at ``path`` with the changes of a file applied, loaded and validated like ``quotas/``."""
    changes = whatif_files.read(pathlib.Path(changes_file))
    return changes, changed_model_from(path, changes, shown_as=changes_file, model=model)


def changed_model_from(path: str, changes: tuple[whatif.Change, ...], *, shown_as: str = "the proposals",
                       model: quotas.Quotas | None = None) -> quotas.Quotas:
    """The data centre at ``path`` with ``changes`` applied, loaded and validated like ``quotas/``.

    ``model``, the data centre already loaded from ``path``, gives the files' texts (``Quotas.sources``)
    so that nothing is read again. The edited copy is loaded from texts (``loading.load_texts``): the
    same loader and checks as a directory on disk, the unchanged files' parses and tenants reused.
    """
    if model is not None:
        texts = dict(model.sources)
        original = whatif_files.parse_quotas(texts, root=path)
    else:
        original, texts = whatif_files.read_quotas(pathlib.Path(path))
    edited = whatif_files.apply(changes, original)
    # A file the changes leave alone keeps its text (comments and all): the in-cluster enforcer's
    # ConfigMap carries the reviewed text, and a re-dump would show as a change.
    after = {rel: texts[rel] if rel in original and (original[rel] is document or original[rel] == document)
             else whatif_files.to_yaml(document) for rel, document in edited.items()}
    # Problems name the files as the user knows them: the quotas directory as changed by the file.
    display = f"{path} (after {shown_as})"
    # The files the changes did not touch were loaded before: reload only the rest, and fall back to the
    # full load of the copy at any problem, which then words it (quota_edits: the same result or none).
    edited_model = quota_edits.load_edited(display, after)
    return edited_model if edited_model is not None else loading.load_texts(display, after)


def what_if(path: str, *, changes_file: str, at: dt.date, before: planning.PlanResult | None = None) -> WhatIfResult:
    """Plan ``path`` as it is and as changed by ``changes_file``, and compare the two; ``before``, the plan of
    ``path`` already made (a server, a session trying several change files), is reused instead of re-planned."""
    # The collector held off while the plans are built and compared (see ``allocations.uncollected``):
    # it would walk the millions of live objects of the two models again for each collection.
    with allocations.uncollected():
        before = before or planning.plan(path, at=at)
        changes, model = changed_model(path, changes_file, model=before.model)
        # As ``plan`` does: the self-service database's approved increases over the edited copy too (the
        # "before" plan has them; without this they would show as changes the file did not make).
        model = increasing.with_approved(model)
        after = planning.PlanResult(model=model, allocation=planning.allocate(model, at=at))
        comparison = comparing.compare(before.allocation, after.allocation)
        explained = {t: explanations.explain(model, after.allocation, t)
                     for t in comparison.losers[:EXPLAINED_LOSERS] if t in after.allocation.tenants}
    return WhatIfResult(changes=changes, before=before, after=after, comparison=comparison, explanations=explained)


@dataclass(frozen=True, kw_only=True)
class ManifestDiff:
    """``render --what-if``: a unified diff per rendered file that the changes alter."""

    diffs: dict[str, str]  # "<pool>/<namespace>.yaml" -> unified diff text

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "WhatIfManifestDiff", "files": dict(self.diffs)}


def manifest_diff(path: str, *, changes_file: str, at: dt.date) -> ManifestDiff:
    """The rendered manifests of ``path`` before and after the changes, as unified diffs per file."""
    before_model = loading.load(path)
    _, after_model = changed_model(path, changes_file, model=before_model)
    old = _texts(before_model, planning.allocate(before_model, at=at))
    new = _texts(after_model, planning.allocate(after_model, at=at))
    diffs: dict[str, str] = {}
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel, ""), new.get(rel, "")
        if a != b:
            diffs[rel] = "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                                      fromfile=f"before/{rel}", tofile=f"after/{rel}"))
    return ManifestDiff(diffs=diffs)


def _texts(model: quotas.Quotas, allocation: allocations.Allocation) -> dict[str, str]:
    return {rel: kubernetes.to_yaml(objs) for rel, objs in rendering.files(model, allocation).items()}
