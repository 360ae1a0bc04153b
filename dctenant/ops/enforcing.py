"""``dctenant enforce``: measure in Prometheus, decide (pure engine), and — with ``--act`` — act and record.

One cycle: load ``quotas/`` and allocate it (the envelopes), ask Prometheus the fixed set of
queries as range queries over the last ``max(sustainedFor, recoveryWindow)`` (its own history of
usage), let ``judging`` decide from that history and from what was done before, and then

* in a dry run (the default): nothing else — no cluster is contacted, no state or ledger written;
* with ``act``: record the intent of every action in the audit ledger *before* touching a cluster
  (no intent recorded, no action), carry each out on the tenant's namespaces in its pool's cluster
  (``ops.acting``), post one Alertmanager webhook for the notices, save the state atomically, and
  record every decision that is not "ok" and every action's outcome, in one transaction.

An action that fails leaves that track as it was, so the next cycle tries again. Because sustained
breaches and recoveries are read from Prometheus, a dry run, a fresh process and a long-running
loop decide alike; the state file holds only what was done.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dctenant.clients import enforcement_state, kube, ledger_db, prometheus
from dctenant.domain import audit_events, policies, pools, quotas, usage
from dctenant.engine import judging
from dctenant.errors import BackendError, UserError, suggestion
from dctenant.loaders import datacentres, documents, loading, policy_files
from dctenant.loaders.fields import Reader
from dctenant.ops import acting, planning

ACTOR = "dctenant-enforcer"
INTENDED = audit_events.ACTION_INTENDED  # recorded before an action touches a cluster; its outcome follows


@dataclass(frozen=True, kw_only=True)
class Action:
    """One action carried out (or attempted) in one namespace."""

    tenant: str
    pool: str
    resource: str
    action: str
    namespace: str
    done: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {"tenant": self.tenant, "pool": self.pool, "resource": self.resource, "action": self.action,
                "namespace": self.namespace, "done": self.done}
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True, kw_only=True)
class Cycle:
    """The result of one enforcement cycle: what ``--output json`` prints (docs/enforcement.md)."""

    at: dt.datetime
    act: bool
    decisions: tuple[usage.Decision, ...]
    actions: tuple[Action, ...] = ()
    queries: int = 0
    seconds: float = 0.0  # time the queries took, each from sending to parsed (they overlap)

    @property
    def breach(self) -> bool:
        return any(d.state is usage.State.BREACH for d in self.decisions)

    @property
    def missing(self) -> tuple[str, ...]:
        """Which data was missing, each cause once, in order of first appearance."""
        causes: dict[str, None] = {}
        for d in self.decisions:
            if d.state is usage.State.UNKNOWN:
                causes.setdefault(d.reason.split("no data (", 1)[-1].split("); nothing", 1)[0], None)
        return tuple(causes)

    @property
    def failed(self) -> bool:
        return any(a.error for a in self.actions)

    def as_dict(self) -> dict[str, Any]:
        counts = {s.value: sum(1 for d in self.decisions if d.state is s) for s in usage.State}
        return {"kind": "EnforcementCycle", "at": self.at.isoformat(), "mode": "act" if self.act else "dry-run",
                "queries": self.queries, "counts": counts, "missing": list(self.missing),
                "decisions": [d.as_dict() for d in self.decisions],
                "actions": [a.as_dict() for a in self.actions]}


@dataclass(kw_only=True)
class Enforcer:
    """Everything a cycle needs that stays the same between cycles (``--interval`` loops reuse it)."""

    path: str
    settings: prometheus.Settings
    pools: Sequence[str] = ()
    act: bool = False
    kubeconfig: str | None = None
    state_path: pathlib.Path | None = None
    ledger: str | None = None
    webhook: str | None = None
    asker: prometheus.RangeAsker | None = None  # tests and benchmarks may answer queries themselves
    connect: Callable[[str], kube.Cluster] | None = None  # pool's kubeconfig context → cluster (tests: fakes)
    open_ledger: Callable[[], ledger_db.Ledger] | None = None  # tests: a ledger that fails on purpose
    _saved: enforcement_state.Saved | None = field(default=None, repr=False)
    _client: prometheus.Prometheus | None = field(default=None, repr=False)

    def cycle(self, *, now: dt.datetime, at: dt.date) -> Cycle:
        """Measure, decide and (with ``act``) act, as of ``now`` (usage) and ``at`` (licences)."""
        now = now.replace(microsecond=0)  # Prometheus' range queries are asked on whole seconds
        client = self._prometheus()
        client.timings.clear()
        # The queries need only the scope and the window, from datacentre.yaml and policy.yaml:
        # Prometheus evaluates them while the tenants are loaded and allocated here, and the
        # answers are parsed as they arrive.
        outline = _outline(self.path)
        asked = _ask(client, *outline, chosen=self.pools, now=now) if outline is not None else None
        try:
            model = loading.load(self.path)
            self._check_pools(model)
            wanted = _ask(client, model.datacentre, model.policy, chosen=self.pools, now=now, sent=asked)
            allocation = planning.allocate(model, at=at)
        except BaseException:
            if asked is not None:
                for pending in asked.answers.values():
                    pending.cancel()
            raise
        namespaces = {g.namespace: g.pool for g in allocation.namespaces if not self.pools or g.pool in self.pools}
        measured = client.collect(wanted, namespaces)
        saved = self._state()
        verdict = judging.decide(model, allocation=allocation, measured=measured, memory=saved.memory, now=now,
                                pools=self.pools)
        seconds = sum(t.seconds for t in client.timings)
        if not self.act:
            self._saved = enforcement_state.Saved(memory=verdict.memory, replaced=saved.replaced)
            return Cycle(at=now, act=False, decisions=verdict.decisions, queries=measured.queries, seconds=seconds)
        self._intend(verdict, model, now=now)  # raises when the ledger cannot be written: nothing is done
        actions, memory, replaced = self._act(model, verdict, saved, now=now)
        self._saved = enforcement_state.Saved(memory=memory, replaced=replaced)
        enforcement_state.save(self._state_file(), self._saved)
        cycle = Cycle(at=now, act=True, decisions=verdict.decisions, actions=actions, queries=measured.queries,
                      seconds=seconds)
        self._record(cycle, saved.memory)
        return cycle

    def close(self) -> None:
        """End the query threads kept between cycles."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _prometheus(self) -> prometheus.Prometheus:
        """The endpoint, kept between cycles: its threads keep their connections alive."""
        if self._client is None:
            self._client = (prometheus.Prometheus(self.settings, ask_range=self.asker) if self.asker
                            else prometheus.Prometheus(self.settings))
        return self._client

    def _check_pools(self, model: quotas.Quotas) -> None:
        names = model.datacentre.pool_names
        for name in self.pools:
            if name not in names:
                hint = suggestion(name, names)
                raise UserError(f"no pool {name!r} in the data centre" + (f"; {hint}" if hint else ""),
                                location="--pool")

    def _state_file(self) -> pathlib.Path:
        return self.state_path or enforcement_state.default_path(self.pools)

    def _state(self) -> enforcement_state.Saved:
        if self._saved is None:
            self._saved = enforcement_state.load(self._state_file())
        return self._saved

    def _act(self, model: quotas.Quotas, verdict: usage.Verdict, saved: enforcement_state.Saved, *,
             now: dt.datetime) -> tuple[tuple[Action, ...], usage.Memory, dict[str, Any]]:
        todo = [d for d in verdict.decisions if d.action]
        tracks = dict(verdict.memory.tracks)
        replaced: dict[str, Any] = {k: _copy(v) for k, v in saved.replaced.items()}
        done: list[Action] = []
        clusters: dict[str, kube.Cluster] = {}
        try:
            for decision in todo:
                spaces = [ns.name for ns in model.tenant(decision.tenant).namespaces if ns.pool == decision.pool]
                held = verdict.memory.held(decision.tenant, decision.pool)
                key = (decision.tenant, decision.pool, decision.resource)
                for namespace in spaces:
                    try:
                        cluster = clusters.get(decision.pool) or clusters.setdefault(
                            decision.pool, self._connect(model.datacentre.pool(decision.pool).context))
                        what = acting.perform(cluster, decision, namespace=namespace, replaced=replaced, held=held,
                                             now=now)
                        done.append(Action(tenant=decision.tenant, pool=decision.pool, resource=decision.resource,
                                           action=decision.action, namespace=namespace, done=what))
                    except BackendError as exc:
                        done.append(Action(tenant=decision.tenant, pool=decision.pool, resource=decision.resource,
                                           action=decision.action, namespace=namespace, error=str(exc)))
                        # Not done: keep the old track so that the next cycle tries again.
                        old = saved.memory.tracks.get(key)
                        if old is None:
                            tracks.pop(key, None)
                        else:
                            tracks[key] = old
        finally:
            for cluster in clusters.values():
                cluster.close()
        notices = [d for d in todo if d.action == judging.NOTIFY]
        if self.webhook and notices:
            try:
                prometheus.post_alerts(self.webhook, [_alert(d, now) for d in notices],
                                       timeout=self.settings.timeout)
            except BackendError as exc:
                done.append(Action(tenant="*", pool="*", resource="*", action="webhook", namespace="",
                                   error=str(exc)))
        return tuple(done), usage.Memory(tracks=tracks), replaced

    def _connect(self, context: str) -> kube.Cluster:
        if self.connect is not None:
            return self.connect(context)
        return kube.connect(context=context, kubeconfig=self.kubeconfig)

    def _ledger(self) -> ledger_db.Ledger:
        return self.open_ledger() if self.open_ledger is not None else ledger_db.open_ledger(self.ledger)

    def _intend(self, verdict: usage.Verdict, model: quotas.Quotas, *, now: dt.datetime) -> None:
        """Record each action this cycle will attempt, per namespace, before any cluster is touched.

        Issue 15's rule for cluster actions: no change without its event. Should the process die
        between the intent and the outcome, the ledger still says what may have been changed.
        """
        drafts = [ledger_db.Draft(
            kind=INTENDED, actor=ACTOR, subject={"tenant": d.tenant, "pool": d.pool, "resource": d.resource,
                                                 "namespace": ns.name, "action": d.action},
            after=d.as_dict(), reason=d.reason, at=now)
            for d in verdict.decisions if d.action
            for ns in model.tenant(d.tenant).namespaces if ns.pool == d.pool]
        self._append(drafts)

    def _append(self, drafts: list[ledger_db.Draft]) -> None:
        """Append ``drafts`` in one transaction (all or none), opening the ledger only when there are any."""
        if not drafts:
            return
        journal = self._ledger()
        try:
            journal.append_many(drafts)
        finally:
            journal.close()

    def _record(self, cycle: Cycle, before: usage.Memory) -> None:
        drafts: list[ledger_db.Draft] = []
        for d in cycle.decisions:
            if d.state is usage.State.OK and not d.action:
                continue
            drafts.append(ledger_db.Draft(
                kind=audit_events.ENFORCEMENT_DECISION, actor=ACTOR,
                subject={"tenant": d.tenant, "pool": d.pool, "resource": d.resource},
                before=before.track((d.tenant, d.pool, d.resource)).as_dict(), after=d.as_dict(),
                reason=d.reason, at=cycle.at))
        for a in cycle.actions:
            drafts.append(ledger_db.Draft(
                kind=audit_events.ACTION_UNDONE if a.action.startswith(usage.UNDO) else audit_events.ACTION_TAKEN,
                actor=ACTOR,
                subject={"tenant": a.tenant, "pool": a.pool, "resource": a.resource, "namespace": a.namespace,
                         "action": a.action},
                after=a.as_dict(), reason=a.error or a.done, at=cycle.at))
        self._append(drafts)


def _ask(client: prometheus.Prometheus, datacentre: pools.DataCentre, policy: policies.Policy, *,
         chosen: Sequence[str], now: dt.datetime, sent: prometheus.Asked | None = None) -> prometheus.Asked:
    """The cycle's queries for this data centre, policy and ``chosen`` pools: ``sent`` when it matches, else new.

    They differ only when datacentre.yaml or policy.yaml changed between the first read and the
    full load: the queries sent then are dropped, so the cycle never judges with another scope.
    """
    where = prometheus.scope(client.settings, datacentre, chosen)
    rules = policy.enforcement
    window = max(rules.sustained_for, rules.recovery_window)
    if sent is not None and sent.where == where and sent.window == window:
        return sent
    if sent is not None:
        for pending in sent.answers.values():
            pending.cancel()
    return client.ask(where=where, now=now, window=window)


def _outline(path: str) -> tuple[pools.DataCentre, policies.Policy] | None:
    """datacentre.yaml and policy.yaml alone, or None when either has a problem (the full load reports it)."""
    root = pathlib.Path(path)
    found: list[Reader] = []
    for name in ("datacentre.yaml", "policy.yaml"):
        document, problems = documents.read(root / name, display=str(root / name))
        if document is None or problems:
            return None
        found.append(Reader(document))
    datacentre, policy = datacentres.load(found[0]), policy_files.load(found[1])
    if datacentre is None or policy is None or any(r.problems for r in found):
        return None
    return datacentre, policy


def _alert(d: usage.Decision, now: dt.datetime) -> dict[str, Any]:
    """An Alertmanager v2 alert (``POST /api/v2/alerts`` takes a list of these)."""
    return {"labels": {"alertname": "DctenantEnforcement", "tenant": d.tenant, "pool": d.pool,
                       "resource": d.resource, "state": d.state.value,
                       "severity": "critical" if d.state is usage.State.BREACH else "warning"},
            "annotations": {"summary": d.reason}, "startsAt": now.isoformat()}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
