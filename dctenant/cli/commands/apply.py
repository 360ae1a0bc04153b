"""``dctenant apply [PATH]``: server-side apply the changed objects of each pool, under a lease.

``--dry-run`` prints the plan (the same tables as ``diff``) and writes nothing. When a request
fails part-way, the command lists what was and was not applied and exits 1; running it again
finishes the job. ``--release-enforcement`` overwrites what the enforcer holds (recorded in the
ledger); without it, held objects keep their enforced values. ``--break-lease`` takes over the
lease of an apply that staff know to be dead on another host, after confirmation (``--yes``), and
records who and why in the ledger.
"""

from __future__ import annotations

import datetime as dt
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

import click

from dctenant.cli import options
from dctenant.cli.commands import diff

if TYPE_CHECKING:
    from dctenant.domain import changes
    from dctenant.ops import applying


@click.command("apply")
@options.quotas_path
@diff.pools
@options.at
@diff.kubeconfig
@click.option("--dry-run", is_flag=True, help="Show the plan and write nothing.")
@click.option("--force-conflicts", is_flag=True,
              help="Take ownership of fields another field manager set (server-side apply force).")
@click.option("--prune-namespaces", is_flag=True,
              help="Delete managed namespaces no longer desired, if they hold no pods and no PVCs.")
@click.option("--content-kind", "content_kinds", multiple=True, metavar="KIND",
              help="With --prune-namespaces: any object of this kind also keeps a namespace (repeatable; "
                   "a known kind such as Job, or GROUP/VERSION/PLURAL such as v1/secrets).")
@click.option("--prune-scaled-to-zero", is_flag=True,
              help="With --prune-namespaces: a Deployment, StatefulSet or ReplicaSet at zero replicas "
                   "does not keep its namespace (by default it does).")
@click.option("--release-enforcement", is_flag=True,
              help="Write back the quotas and bandwidth limits the enforcer holds lowered, and remove its marks.")
@click.option("--break-lease", is_flag=True,
              help="Take over the apply lease held by an apply on another host that you know is dead "
                   "(asks first; recorded in the ledger with --reason).")
@click.option("--reason", default="", metavar="TEXT", help="Why the lease is broken (with --break-lease).")
@click.option("--yes", is_flag=True, help="Do not ask before breaking the lease (with --break-lease).")
@options.ledger
@options.output
def command(path: str, pools: tuple[str, ...], at: dt.date, kubeconfig: str | None, dry_run: bool,
            force_conflicts: bool, prune_namespaces: bool, content_kinds: tuple[str, ...],
            prune_scaled_to_zero: bool, release_enforcement: bool, break_lease: bool, reason: str, yes: bool,
            ledger: str | None, output: str) -> None:
    """Apply the desired namespaces to each pool's cluster (server-side apply, prune protection)."""
    from dctenant.cli import console
    from dctenant.clients import kube
    from dctenant.errors import BackendError
    from dctenant.ops import applying

    if (reason or yes) and not break_lease:
        raise click.UsageError("--reason and --yes go with --break-lease")
    if break_lease and not reason.strip():
        if yes or not sys.stdin.isatty():
            raise click.UsageError("--break-lease needs --reason TEXT: the ledger records why the lease was broken")
        reason = click.prompt("Why is the lease broken (recorded in the ledger)?").strip()
    rules = applying.PruneRules(kinds=tuple(kube.extra_kind(k) for k in content_kinds),
                                scaled_to_zero_is_content=not prune_scaled_to_zero)
    targets = applying.targets(path, at=at, pools=pools)
    if dry_run:
        plans = applying.diff(targets, kubeconfig=kubeconfig, prune_namespaces=prune_namespaces,
                              release_enforcement=release_enforcement, rules=rules)
        console.emit(plans, output=output, table=lambda: diff.show_plans(plans.plans))
        return
    from dctenant.clients import ledger_db

    def confirm(holder: kube.Holder, until: dt.datetime | None) -> bool:
        if not break_lease:
            return False
        if yes:
            return True
        when = f" until {until:%Y-%m-%d %H:%M:%S} UTC" if until else ""
        return click.confirm(f"The apply lease is held by {holder.identity}{when}. Take it over? Only if that "
                             "apply is dead: two applies at once can undo each other's changes", err=True)

    with ledger_db.open_ledger(ledger) as opened, Bar(enabled=output == "table" and console.stderr.is_terminal) as bar:
        result = applying.apply(targets, kubeconfig=kubeconfig, force_conflicts=force_conflicts,
                                prune_namespaces=prune_namespaces, progress=bar, ledger=opened,
                                release_enforcement=release_enforcement, rules=rules, confirm_break=confirm,
                                break_reason=reason.strip())
    console.emit(result, output=output, table=lambda: _show(result))
    if any(o.lease_lost for o in result.outcomes):
        raise BackendError("another apply took over the lease: this apply stopped and wrote nothing more; "
                           "run diff to see the cluster as the other apply left it")
    if not result.ok:
        raise BackendError("apply stopped before finishing; run it again to finish the remaining changes")


def _show(result: applying.ApplyResult) -> None:
    from dctenant.cli import console

    for outcome in result.outcomes:
        diff.show_plans([outcome.plan])
        if outcome.takeover is not None:
            console.stderr.print(f"took the lease over from {outcome.takeover.previous} ({outcome.takeover.why})",
                                 markup=False, soft_wrap=True)
        console.stdout.print(f"pool {outcome.plan.pool}: applied {len(outcome.done)} of "
                             f"{len(outcome.plan.writes)} changes")
        for name, why in outcome.kept:
            console.stdout.print(f"namespace {name} kept, not pruned: {why}", markup=False, soft_wrap=True)
        if outcome.error:
            failed = outcome.failed.ref if outcome.failed else "?"
            console.stderr.print(f"failed at {failed}: {outcome.error}", markup=False, style="red", soft_wrap=True)
            console.stderr.print("not applied: " + (", ".join(c.ref for c in outcome.not_done) or "nothing"),
                                 markup=False, soft_wrap=True)
    if result.error:
        console.stderr.print(result.error, markup=False, style="red", soft_wrap=True)
    if result.skipped:
        console.stderr.print("pools not attempted: " + ", ".join(result.skipped), markup=False,
                             soft_wrap=True)


class Bar:
    """A rich progress bar on stderr for apply's writes; does nothing when not on a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.progress import Progress

            from dctenant.cli import console

            self._progress = Progress(console=console.stderr, transient=True)

    def __enter__(self) -> Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, plan: changes.Plan) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(f"pool {plan.pool}", total=len(plan.writes))

    def advance(self, change: changes.Change) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
