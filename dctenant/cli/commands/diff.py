"""``dctenant diff [PATH]``: what ``apply`` would change in each pool's cluster, field by field.

Also home of the plan tables and pool/kubeconfig options that ``apply`` shares, so that a dry run
and a diff print the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dctenant.cli import options

if TYPE_CHECKING:
    from dctenant.domain import changes

EXIT_PENDING = 3
MAX_ROWS = 200  # per pool; -o json/yaml lists every change
F = TypeVar("F", bound=Callable[..., Any])


def pools(func: F) -> F:
    return click.option("-p", "--pool", "pools", multiple=True, metavar="POOL",
                        help="Only this pool (repeatable; default: every pool).")(func)


def kubeconfig(func: F) -> F:
    return click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False),
                        help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config); "
                             "each pool uses its own context from it.")(func)


@click.command("diff")
@options.quotas_path
@pools
@options.at
@kubeconfig
@click.option("--exit-code", is_flag=True,
              help="Exit 3 when changes are pending (objects held by enforcement are not pending).")
@options.output
def command(path: str, pools: tuple[str, ...], at: dt.date, kubeconfig: str | None, exit_code: bool,
            output: str) -> None:
    """Compare the desired namespaces with the live clusters: create / update / prune / orphaned / held."""
    from dctenant.cli import console
    from dctenant.ops import applying

    targets = applying.targets(path, at=at, pools=pools)
    result = applying.diff(targets, kubeconfig=kubeconfig)
    console.emit(result, output=output, table=lambda: show_plans(result.plans))
    if exit_code and result.pending:
        sys.exit(EXIT_PENDING)


def show_plans(plans: Sequence[changes.Plan]) -> None:
    """One summary line and a table of changes per pool."""
    from dctenant.cli import console

    for plan in plans:
        counts = plan.counts()
        console.stdout.print(
            f"[bold]pool {plan.pool}[/] (context {plan.context}): {counts['create']} to create, "
            f"{counts['update']} to update, {counts['prune']} to prune, {counts['orphan']} orphaned, "
            f"{counts['held']} held by enforcement, "
            + (f"{counts['released']} released from enforcement, " if counts["released"] else "")
            + f"{counts['unchanged']} unchanged", markup=True)
        if not plan.changes:
            continue
        table = console.new_table("", "op", "object", "detail")
        for change in plan.changes[:MAX_ROWS]:
            table.add_row(console.styled(str(change.op), STYLES[str(change.op)]), change.ref, _detail(change))
        console.keep(table, "op", "object")
        console.stdout.print(table)
        if len(plan.changes) > MAX_ROWS:
            console.stdout.print(f"… and {len(plan.changes) - MAX_ROWS} more (-o json lists every change)")


STYLES = {"create": "green", "update": "yellow", "prune": "red", "orphan": "magenta", "held": "cyan"}


def _detail(change: changes.Change) -> str:
    lines = [f"{f.path}: {change_text(f.before, f.after)}" for f in change.fields]
    if change.hold is not None:
        # What the enforcer holds (kept as it is), or, when released, that it is being released.
        lines.append(change.hold.reason)
        if not change.hold.released:
            lines.extend(f"{f.path}: {_short(f.before)} kept (quotas/: {_short(f.after)})" for f in change.hold.fields)
    elif not lines:
        lines.append(str(change.reason))
    return "\n".join(lines)


def change_text(before: Any, after: Any) -> str:
    """``before → after``, short; for long texts (a ConfigMap's files) where they differ, not a common prefix.

    Cutting both values to their first 60 characters hides the change whenever they share that
    prefix (every ``quotas/`` file in the ``dctenant-quotas`` ConfigMap does), so long texts are
    shown at their first differing line, and maps by the keys that differ.
    """
    if isinstance(before, str) and isinstance(after, str) and max(len(before), len(after)) > 60:
        return _text_change(before, after)
    if isinstance(before, dict) and isinstance(after, dict):
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        parts = [f"{label}: {', '.join(map(str, keys))}" for label, keys in
                 (("changed", changed), ("added", added), ("removed", removed)) if keys]
        return "; ".join(parts) or "(same keys)"
    return f"{_short(before)} → {_short(after)}"


def _text_change(before: str, after: str) -> str:
    old, new = before.splitlines(), after.splitlines()
    if len(old) <= 1 and len(new) <= 1:
        at = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                  min(len(before), len(after)))
        start = max(0, at - 20)
        return (f"at character {at + 1}: {_short(('…' if start else '') + before[start:])} → "
                f"{_short(('…' if start else '') + after[start:])}")
    lines = max(len(old), len(new))
    differ = [i for i in range(lines) if (old[i] if i < len(old) else None) != (new[i] if i < len(new) else None)]
    if not differ:
        return "(only line endings differ)"
    i = differ[0]
    more = f" (and {len(differ) - 1} more lines)" if len(differ) > 1 else ""
    return (f"line {i + 1}: {_short(old[i]) if i < len(old) else '(no line)'} → "
            f"{_short(new[i]) if i < len(new) else '(no line)'}{more}")


def _short(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "…"
