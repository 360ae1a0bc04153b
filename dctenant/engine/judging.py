"""Usage + policy + what was remembered → one decision per tenant, pool and resource, and new memory.

This is the judgement of metrics-based enforcement, kept apart from measuring (Prometheus) and
acting (Kubernetes) so that its rules can be tested exhaustively with hand-made numbers and times:

* **Warning** at ``warningAt`` × envelope; **breach** when usage stays above ``breachAt`` × envelope
  for ``sustainedFor``. A breach takes the policy's first action; each further ``gracePeriod``
  in breach takes the next one (at most one step a cycle, mildest first).
* **Hysteresis**: once an action is in force, the tenant returns to normal only after usage
  stays below the warning threshold for ``recoveryWindow``; then the actions are undone in
  reverse order, one a cycle.
* **Licences**: a notice before expiry and during grace; an expired (beyond grace), suspended or
  revoked licence suspends the tenant, and a licence in order again undoes that suspension.
* **Unknown data** is never zero: the decision is ``unknown``, timers stand still and nothing
  escalates or is undone.

Pure: it reads no clock, file or network; ``now`` is a parameter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection
from decimal import Decimal

from dctenant.domain import allocations, policies, quotas, resources, tenants, usage
from dctenant.domain.usage import Decision, State, Track

NOTIFY = "notify"
SUSPEND = "suspend"

_Make = Callable[[State, str, str, Track], tuple[Decision, Track]]
"""The local ``decision`` helpers: state, action, reason, new track → the decision and the track."""


def decide(
    model: quotas.Quotas,
    *,
    allocation: allocations.Allocation,
    measured: usage.Usage,
    memory: usage.Memory,
    now: dt.datetime,
    pools: Collection[str] = (),
) -> usage.Verdict:
    """Every decision of this cycle (tenants by id, pools in data-centre order) and the memory to keep."""
    rules = model.policy.enforcement
    tracks = dict(memory.tracks)
    decisions: list[Decision] = []
    order = [p for p in model.datacentre.pool_names if not pools or p in pools]
    for tenant in sorted(model.tenants, key=lambda t: t.id):
        granted = allocation.tenants.get(tenant.id)
        if granted is None:
            continue
        for pool in (p for p in order if p in granted.shares):
            namespaces = tuple(ns.name for ns in tenant.namespaces if ns.pool == pool)
            key = (tenant.id, pool, usage.LICENCE)
            decision, tracks[key] = _licence(tenant, pool, granted.licence, tracks.get(key, Track()),
                                             model.policy, allocation.at)
            decisions.append(decision)
            if not granted.licence.served or not namespaces:
                continue
            envelope = granted.shares[pool].envelope
            for resource in resources.ordered(envelope):
                key = (tenant.id, pool, resource)
                decision, tracks[key] = _resource(
                    tenant.id, pool, resource, envelope=envelope[resource],
                    used=_sum(measured, namespaces, resource), missing=_missing(measured, namespaces, resource),
                    track=tracks.get(key, Track()), rules=rules, now=now)
                decisions.append(decision)
    kept = {k: t for k, t in tracks.items() if not t.idle}
    return usage.Verdict(decisions=tuple(decisions), memory=usage.Memory(tracks=kept))


def _licence(tenant: tenants.Tenant, pool: str, state: tenants.LicenceState, track: Track,
             policy: policies.Policy, at: dt.date) -> tuple[Decision, Track]:
    lic = tenant.licence
    grace_end = lic.expires + dt.timedelta(days=policy.licences.grace_days)

    def decision(st: State, action: str, reason: str, new: Track) -> tuple[Decision, Track]:
        return (Decision(tenant=tenant.id, pool=pool, resource=usage.LICENCE, state=st, usage=None, envelope=None,
                         action=action, reason=f"{tenant.id} licence {lic.number} {reason}", level=len(new.taken)),
                new)

    if not state.served:
        why = {tenants.LicenceState.SUSPENDED: "is suspended by the regulator",
               tenants.LicenceState.REVOKED: "is revoked by the regulator"}.get(
            state, f"expired on {lic.expires} and its {policy.licences.grace_days}-day grace ended on {grace_end}")
        if SUSPEND in track.taken:
            return decision(State.SUSPENDED, "", f"{why}; the tenant stays suspended", track)
        return decision(State.SUSPENDED, SUSPEND, f"{why}; suspending the tenant",
                        Track(taken=(*track.taken, SUSPEND), warned=track.warned))
    if state is tenants.LicenceState.GRACE:
        text, st = f"expired on {lic.expires}; served in grace until {grace_end}", State.WARNING
    elif state is tenants.LicenceState.EXPIRING:
        text, st = f"expires on {lic.expires}, in {lic.days_to_expiry(at=at)} days", State.WARNING
    else:
        text, st = f"is {state.value} until {lic.expires}", State.OK
    if SUSPEND in track.taken:  # the licence is in order again: lift the suspension
        rest = tuple(a for a in track.taken if a != SUSPEND)
        return decision(st, usage.UNDO + SUSPEND, f"{text}; lifting the suspension",
                        Track(taken=rest, warned=track.warned))
    if st is State.WARNING and not track.warned:
        return decision(st, NOTIFY, text, Track(warned=True, taken=track.taken))
    return decision(st, "", text, Track(warned=st is State.WARNING, taken=track.taken))


def _resource(tenant: str, pool: str, resource: str, *, envelope: Decimal, used: Decimal | None, missing: str,
              track: Track, rules: policies.Enforcement, now: dt.datetime) -> tuple[Decision, Track]:
    name = f"{tenant} {_name(resource)}"

    def decision(st: State, action: str, reason: str, new: Track) -> tuple[Decision, Track]:
        return (Decision(tenant=tenant, pool=pool, resource=resource, state=st, usage=used, envelope=envelope,
                         action=action, reason=reason, level=len(new.taken)), new)

    if used is None:
        held = f"; {len(track.taken)} action(s) stay in force" if track.taken else ""
        return decision(State.UNKNOWN, "", f"{name}: no data ({missing}); nothing is escalated or undone{held}",
                        track)
    amount = f"{_amount(resource, used)}"
    limit = f"{_amount(resource, envelope)} envelope"
    over = used > envelope * rules.breach_at
    near = used >= envelope * rules.warning_at
    if over:
        since = track.over_since or now
        lasted = now - since
        new = Track(over_since=since, warned=track.warned, taken=track.taken)
        window = dt.timedelta(seconds=rules.sustained_for)
        text = f"{name} {amount} > {limit} for {_duration(lasted)} (window {_duration(window)})"
        if lasted < window:
            return _warn(decision, text, new)
        elapsed = (lasted - window).total_seconds()
        target = len(rules.actions) if rules.grace_period == 0 else min(
            len(rules.actions), 1 + int(elapsed // rules.grace_period))
        if len(track.taken) < target:
            action = rules.actions[len(track.taken)]
            return decision(State.BREACH, action, text,
                            Track(over_since=since, warned=track.warned, taken=(*track.taken, action)))
        return decision(State.BREACH, "", text + _in_force(track), new)
    if track.taken:
        return _recover(decision, name, amount, resource, envelope, track, rules, now, near=near)
    if near:
        text = f"{name} {amount} ≥ {rules.warning_at:.0%} of {limit}"
        return _warn(decision, text, Track(warned=track.warned))
    return decision(State.OK, "", f"{name} {amount} within {limit}", Track())


def _warn(decision: _Make, text: str, new: Track) -> tuple[Decision, Track]:
    """A warning notifies once per episode."""
    if new.warned:
        return decision(State.WARNING, "", text, new)
    return decision(State.WARNING, NOTIFY, text, Track(over_since=new.over_since, warned=True, taken=new.taken))


def _recover(decision: _Make, name: str, amount: str, resource: str, envelope: Decimal, track: Track,
             rules: policies.Enforcement, now: dt.datetime, *, near: bool) -> tuple[Decision, Track]:
    """Below the breach threshold with actions in force: undo them only after the recovery window."""
    window = dt.timedelta(seconds=rules.recovery_window)
    threshold = f"{rules.warning_at:.0%} of the {_amount(resource, envelope)} envelope"
    if near:
        text = (f"{name} {amount} is back under the envelope but not below {threshold}; "
                f"recovery needs {_duration(window)} below it" + _in_force(track))
        return decision(State.BREACH, "", text, Track(warned=track.warned, taken=track.taken))
    since = track.below_since or now
    lasted = now - since
    if lasted < window:
        text = (f"{name} {amount} below {threshold} for {_duration(lasted)} "
                f"(recovery window {_duration(window)})" + _in_force(track))
        return decision(State.BREACH, "", text, Track(below_since=since, warned=track.warned, taken=track.taken))
    # Actions are undone newest first; a notice needs no undoing.
    rest = list(track.taken)
    while rest and rest[-1] == NOTIFY:
        rest.pop()
    if not rest:
        return decision(State.OK, "", f"{name} {amount} below {threshold} for {_duration(lasted)}: back to normal",
                        Track())
    undone = rest.pop()
    while rest and rest[-1] == NOTIFY:
        rest.pop()
    text = f"{name} {amount} below {threshold} for {_duration(lasted)}: undoing {undone}"
    return decision(State.BREACH if rest else State.OK, usage.UNDO + undone, text,
                    Track(below_since=since if rest else None, warned=track.warned if rest else False,
                          taken=tuple(rest)))


def _in_force(track: Track) -> str:
    return f"; in force: {', '.join(track.taken)}" if track.taken else ""


def _sum(measured: usage.Usage, namespaces: tuple[str, ...], resource: str) -> Decimal | None:
    total = Decimal(0)
    for ns in namespaces:
        value = measured.amount(ns, resource)
        if value is None:
            return None
        total += value
    return total


def _missing(measured: usage.Usage, namespaces: tuple[str, ...], resource: str) -> str:
    return "; ".join(dict.fromkeys(m for ns in namespaces if (m := measured.missing(ns, resource))))


def _name(resource: str) -> str:
    """How people call a resource in a sentence: ``egress``, ``cpu``, ``storage ssd-standard``."""
    if resource.startswith(resources.BANDWIDTH_PREFIX):
        return resource.removeprefix(resources.BANDWIDTH_PREFIX)
    if resource.startswith(resources.STORAGE_PREFIX):
        return "storage " + resource.removeprefix(resources.STORAGE_PREFIX)
    return "GPUs" if resource == resources.GPU else resource


_UNITS = {resources.Kind.CPU: " cores", resources.Kind.GPU: " GPUs"}


def _amount(resource: str, value: Decimal) -> str:
    """``46.2 Gbps``, ``1.5 TiB``, ``12.5 cores``: approximate, for reasons (JSON keeps exact values)."""
    text = resources.humanize(resource, value)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if match is None:
        return text
    number, unit = match.groups()
    if unit.endswith("i"):
        unit += "B"
    elif not unit:
        unit = _UNITS.get(resources.kind(resource), " bytes").strip()
    return f"{number} {unit}"


def _duration(delta: dt.timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
