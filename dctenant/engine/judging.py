"""Usage + policy + what was remembered → one decision per tenant, pool and resource, and new memory.

This is the judgement of metrics-based enforcement, kept apart from measuring (Prometheus) and
acting (Kubernetes) so that its rules can be tested exhaustively with hand-made numbers and times:

* **Warning** at ``warningAt`` × envelope (usage ≥ it); **breach** when usage is above
  ``breachAt`` × envelope (strictly) at every point of Prometheus' history from ``sustainedFor``
  ago to now. A breach takes the policy's first action; while the breach stays sustained,
  each further ``gracePeriod`` after the previous action takes the next one (at most one step a
  cycle, mildest first).
* **Hysteresis**: once an action is in force, the tenant returns to normal only after usage was
  below the warning threshold (strictly) at every point from ``recoveryWindow`` ago to now; then the
  actions are undone in reverse order, one a cycle.
* **History, not memory**: "over for" and "below for" are read from the measured ``Series``
  (Prometheus' history), never from a clock kept between cycles, so a dry run, a freshly started
  process and a long-running loop reach the same decision. The memory keeps what was done.
* **Licences**: a notice before expiry and during grace; an expired (beyond grace), suspended or
  revoked licence suspends the tenant, and a licence in order again undoes that suspension.
* **Unknown data** is never zero: the decision is ``unknown``, timers stand still and nothing
  escalates or is undone.

Pure: it reads no clock, file or network; ``now`` is a parameter.
"""

from __future__ import annotations

import datetime as dt
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
    measured: usage.Series,
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
                history = tuple((p.at, _sum(p, namespaces, resource)) for p in measured.points)
                decision, tracks[key] = _resource(
                    tenant.id, pool, resource, envelope=envelope[resource], history=history,
                    step=measured.step, missing=_missing(measured.latest, namespaces, resource),
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


History = tuple[tuple[dt.datetime, Decimal | None], ...]
"""A tenant's usage of one resource at each point of the window, oldest first; ``None`` when unknown."""


def _resource(tenant: str, pool: str, resource: str, *, envelope: Decimal, history: History, step: int,
              missing: str, track: Track, rules: policies.Enforcement, now: dt.datetime) -> tuple[Decision, Track]:
    name = f"{tenant} {_name(resource)}"
    used = history[-1][1] if history and history[-1][0] == now else None

    def decision(st: State, action: str, reason: str, new: Track) -> tuple[Decision, Track]:
        return (Decision(tenant=tenant, pool=pool, resource=resource, state=st, usage=used, envelope=envelope,
                         action=action, reason=reason, level=len(new.taken)), new)

    if used is None:
        held = f"; {len(track.taken)} action(s) stay in force" if track.taken else ""
        why = missing or "no measurement at this cycle's time"
        return decision(State.UNKNOWN, "", f"{name}: no data ({why}); nothing is escalated or undone{held}",
                        track)
    breach_limit, warning_limit = envelope * rules.breach_at, envelope * rules.warning_at

    # One definition of each threshold, for the current point and for every point of the history.
    def over(value: Decimal) -> bool:
        return value > breach_limit  # breachAt is exceeded strictly: exactly at it is not a breach

    def below(value: Decimal) -> bool:
        return value < warning_limit  # warningAt is reached inclusively: exactly at it warns

    amount = _amount(resource, used)
    limit = f"{_amount(resource, envelope)} envelope"
    if over(used):
        window = dt.timedelta(seconds=rules.sustained_for)
        lasted = _lasted(history, now, over)
        text = f"{name} {amount} > {limit} for {_duration(lasted)} (window {_duration(window)})"
        if not _throughout(history, now, rules.sustained_for, step, over):
            return _warn(decision, text, Track(warned=track.warned, taken=track.taken, acted_at=track.acted_at))
        due = not track.taken or rules.grace_period == 0 or track.acted_at is None or (
            now - track.acted_at >= dt.timedelta(seconds=rules.grace_period))
        if len(track.taken) < len(rules.actions) and due:
            action = rules.actions[len(track.taken)]
            return decision(State.BREACH, action, text,
                            Track(warned=track.warned, taken=(*track.taken, action), acted_at=now))
        return decision(State.BREACH, "", text + _in_force(track), track)
    if track.taken:
        return _recover(decision, name, amount, resource, envelope, history, step, track, rules, now, below=below)
    if not below(used):
        text = f"{name} {amount} ≥ {rules.warning_at:.0%} of {limit}"
        return _warn(decision, text, Track(warned=track.warned))
    return decision(State.OK, "", f"{name} {amount} within {limit}", Track())


def _throughout(history: History, now: dt.datetime, seconds: int, step: int,
                holds: Callable[[Decimal], bool]) -> bool:
    """Whether ``holds`` at every point from ``now - seconds`` to ``now``, both included, none missing.

    That is ``seconds // step + 1`` points (the current one alone for a zero window): usage held at
    every sample through the window, at the history's resolution. A point that is unknown, or absent
    (Prometheus had no data then), breaks the run: nothing is claimed about a time not measured.
    """
    start = now - dt.timedelta(seconds=seconds)
    inside = [v for at, v in history if start <= at <= now]
    return len(inside) >= seconds // max(step, 1) + 1 and all(v is not None and holds(v) for v in inside)


def _lasted(history: History, now: dt.datetime, holds: Callable[[Decimal], bool]) -> dt.timedelta:
    """How far back the current run of points where ``holds`` reaches (within the history)."""
    since = now
    for at, value in reversed(history):
        if value is None or not holds(value):
            break
        since = at
    return now - since


def _warn(decision: _Make, text: str, new: Track) -> tuple[Decision, Track]:
    """A warning notifies once per episode."""
    if new.warned:
        return decision(State.WARNING, "", text, new)
    return decision(State.WARNING, NOTIFY, text, Track(warned=True, taken=new.taken, acted_at=new.acted_at))


def _recover(decision: _Make, name: str, amount: str, resource: str, envelope: Decimal, history: History,
             step: int, track: Track, rules: policies.Enforcement, now: dt.datetime, *,
             below: Callable[[Decimal], bool]) -> tuple[Decision, Track]:
    """Not over the breach threshold with actions in force: undo them only after the recovery window."""
    window = dt.timedelta(seconds=rules.recovery_window)
    current = history[-1][1]
    threshold = f"{rules.warning_at:.0%} of the {_amount(resource, envelope)} envelope"
    if current is None or not below(current):
        text = (f"{name} {amount} is back under the envelope but not below {threshold}; "
                f"recovery needs {_duration(window)} below it" + _in_force(track))
        return decision(State.BREACH, "", text, track)
    lasted = _lasted(history, now, below)
    if not _throughout(history, now, rules.recovery_window, step, below):
        text = (f"{name} {amount} below {threshold} for {_duration(lasted)} "
                f"(recovery window {_duration(window)})" + _in_force(track))
        return decision(State.BREACH, "", text, track)
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
                    Track(warned=track.warned if rest else False, taken=tuple(rest), acted_at=now if rest else None))


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
    number, unit = resources.humanize_parts(resource, value)
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
