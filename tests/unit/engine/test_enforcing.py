"""The enforcement engine on a hand-made data centre: thresholds, hysteresis, grace, escalation, undo,
unknown data and licences, with times and usage chosen by the test (the engine reads no clock).

``Run`` plays Prometheus' part: it remembers the usage set at each minute and hands the engine the
history of the last 15 minutes at a one-minute step, as ``clients.prometheus`` would."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import given, settings

from dctenant.domain import allocations, policies, pools, quotas, tenants, usage
from dctenant.domain.usage import State
from dctenant.engine import allocating, judging

EGRESS = "bandwidth/egress"
T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 27)
RULES = policies.Enforcement(warning_at=Decimal("0.8"), breach_at=Decimal(1), sustained_for=600,
                             grace_period=1800, recovery_window=900,
                             actions=("notify", "throttle", "scale-down", "suspend"))


def model(*, rules: policies.Enforcement = RULES, status: str = "active",
          expires: dt.date = dt.date(2028, 1, 1)) -> quotas.Quotas:
    pool = pools.Pool(name="p1", site="s", context="ctx", capacity={"cpu": Decimal(100), EGRESS: Decimal(40 * 10**9)})
    tenant = tenants.Tenant(
        id="bale", display_name=pools.DisplayName(en="Bale", fa="بله"), tier="std",
        licence=tenants.Licence(number="L-1", issued=dt.date(2020, 1, 1), expires=expires,
                                status=tenants.LicenceStatus(status)),
        owners=tenants.Owners(users=("a@b",)), demand={"p1": {"cpu": Decimal(10), EGRESS: Decimal(40 * 10**9)}},
        namespaces=(tenants.Namespace(name="bale-a", pool="p1", quota={"cpu": Decimal(5)}),
                    tenants.Namespace(name="bale-b", pool="p1", quota={"cpu": Decimal(5)})))
    policy = policies.Policy(name="p", tiers={"std": policies.Tier(name="std", weight=Decimal(1),
                                                                 guaranteed=Decimal(0))}, enforcement=rules)
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(),
                          pools=(pool,))
    return quotas.Quotas(datacentre=dc, policy=policy, tenants=(tenant,))


def allocation(m: quotas.Quotas, at: dt.date = DAY) -> allocations.Allocation:
    return allocating.allocate(m.datacentre, tenants=m.tenants, policy=m.policy, at=at)


def point(gbps: float | None, *, at: dt.datetime) -> usage.Usage:
    """Egress split over the two namespaces; cpu at 1 core; ``None`` = Prometheus unreachable."""
    if gbps is None:
        return usage.Usage(at=at, error="Prometheus at http://p is unreachable")
    half = Decimal(str(gbps)) * 10**9 / 2
    return usage.Usage(at=at, amounts={"bale-a": {EGRESS: half, "cpu": Decimal(1)}, "bale-b": {EGRESS: half}},
                       seen=frozenset({"bale-a", "bale-b"}))


class Run:
    """Cycles of the engine with memory carried over, as the enforcer runs it, over a usage history."""

    def __init__(self, m: quotas.Quotas | None = None) -> None:
        self.model = m or model()
        self.alloc = allocation(self.model)
        self.memory = usage.Memory()
        self.timeline: list[tuple[float, float | None]] = []  # (minute, Gbps) as set, in order

    def history(self, minutes: float) -> usage.Series:
        """Points every minute over the last 15 (max of window and recovery), each the usage last set."""
        points = []
        for k in range(15, -1, -1):
            t = minutes - k
            before = [g for m, g in self.timeline if m <= t]
            if before:
                points.append(point(before[-1], at=T0 + dt.timedelta(minutes=t)))
        return usage.Series(points=tuple(points), step=60)

    def at(self, minutes: float, gbps: float | None, resource: str = EGRESS) -> usage.Decision:
        now = T0 + dt.timedelta(minutes=minutes)
        self.timeline.append((minutes, gbps))
        verdict = judging.decide(self.model, allocation=self.alloc, measured=self.history(minutes),
                                 memory=self.memory, now=now)
        self.memory = verdict.memory
        return next(d for d in verdict.decisions if d.resource == resource)


def measured(gbps: float | None, *, at: dt.datetime) -> usage.Series:
    """One point only: the current measurement without history."""
    return usage.Series.of(point(gbps, at=at))


def test_reason_names_usage_envelope_duration_and_window() -> None:
    run = Run()
    first = run.at(0, 46.2)
    assert (first.state, first.action) == (State.WARNING, "notify")
    assert first.reason == "bale egress 46.2 Gbps > 40 Gbps envelope for 0 s (window 10 min)"
    later = run.at(12, 46.2)
    assert (later.state, later.action) == (State.BREACH, "notify")
    assert later.reason == "bale egress 46.2 Gbps > 40 Gbps envelope for 12 min (window 10 min)"
    assert later.as_dict() == {"tenant": "bale", "pool": "p1", "resource": EGRESS, "state": "breach",
                               "usage": "46200000000", "envelope": "40000000000", "action": "notify",
                               "reason": later.reason, "level": 1}


def test_a_short_spike_is_only_a_warning_and_notifies_once() -> None:
    run = Run()
    assert [run.at(m, 45).action for m in (0, 1, 5)] == ["notify", "", ""]
    back = run.at(6, 10)
    assert (back.state, back.action) == (State.OK, "")
    assert run.memory.tracks == {}


def test_warning_threshold_below_the_envelope() -> None:
    run = Run()
    near = run.at(0, 33)  # 82.5% of 40 Gbps
    assert (near.state, near.action) == (State.WARNING, "notify")
    assert near.reason == "bale egress 33 Gbps ≥ 80% of 40 Gbps envelope"
    assert run.at(1, 31).state is State.OK


def test_escalation_follows_the_policy_order_one_grace_period_each() -> None:
    run = Run()
    actions = [run.at(m, 50).action for m in (0, 10, 11, 39, 40, 70, 100, 130, 500)]
    assert actions == ["notify", "notify", "", "", "throttle", "scale-down", "suspend", "", ""]
    assert run.memory.track(("bale", "p1", EGRESS)).taken == ("notify", "throttle", "scale-down", "suspend")


def test_escalation_waits_a_grace_period_after_each_action_even_after_a_long_gap() -> None:
    """The history reaches back 15 minutes, not to the start of a long breach: the first action is
    taken at once, each next one a grace period after the previous (recorded with what was done)."""
    run = Run()
    run.at(0, 50)
    assert [run.at(m, 50).action for m in (600, 601, 602, 629)] == ["notify", "", "", ""]
    assert [run.at(m, 50).action for m in (630, 631, 660)] == ["throttle", "", "scale-down"]


def test_hysteresis_then_undo_in_reverse_order() -> None:
    run = Run()
    for m in (0, 10, 40, 70):
        run.at(m, 50)
    assert run.memory.track(("bale", "p1", EGRESS)).taken == ("notify", "throttle", "scale-down")
    under = run.at(71, 39)  # under the envelope, not under the warning threshold: no recovery yet
    assert (under.state, under.action) == (State.BREACH, "")
    assert "recovery needs 15 min below it" in under.reason
    assert [run.at(m, 10).action for m in (72, 80, 86)] == ["", "", ""]
    relapse = run.at(87, 35)  # above the warning threshold: the recovery window starts again
    assert relapse.state is State.BREACH and relapse.action == ""
    steps = [run.at(m, 10) for m in (88, 102, 103, 104, 105)]  # the window restarted at 88
    assert [(d.state, d.action) for d in steps] == [
        (State.BREACH, ""), (State.BREACH, ""), (State.BREACH, "undo-scale-down"), (State.OK, "undo-throttle"),
        (State.OK, "")]
    assert run.memory.tracks == {}


def test_missing_data_is_unknown_and_freezes_everything() -> None:
    run = Run()
    for m in (0, 10, 40):
        run.at(m, 50)
    kept = run.memory
    gone = run.at(500, None)
    assert (gone.state, gone.action, gone.usage) == (State.UNKNOWN, "", None)
    assert gone.reason == ("bale egress: no data (Prometheus at http://p is unreachable); nothing is escalated "
                           "or undone; 2 action(s) stay in force")
    assert run.memory == kept
    cpu = run.at(501, None, resource="cpu")
    assert cpu.state is State.UNKNOWN


def test_a_namespace_not_seen_is_unknown_not_zero() -> None:
    m = model()
    now = T0
    partial = usage.Usage(at=now, amounts={"bale-a": {EGRESS: Decimal(10**9)}}, seen=frozenset({"bale-a"}))
    verdict = judging.decide(m, allocation=allocation(m), measured=usage.Series.of(partial), memory=usage.Memory(),
                             now=now)
    egress = next(d for d in verdict.decisions if d.resource == EGRESS)
    assert egress.state is State.UNKNOWN and "bale-b has no kube_resourcequota series" in egress.reason
    down = usage.Usage(at=now, seen=frozenset({"bale-a", "bale-b"}), down={"cpu": "cadvisor is down"})
    verdict = judging.decide(m, allocation=allocation(m), measured=usage.Series.of(down), memory=usage.Memory(),
                             now=now)
    states = {d.resource: d.state for d in verdict.decisions}
    assert states == {"licence": State.OK, "cpu": State.UNKNOWN, EGRESS: State.OK}


def test_licence_expiring_grace_expired_and_back() -> None:
    m = model(expires=dt.date(2026, 12, 15))
    run = Run(m)
    lic = run.at(0, 1, resource="licence")
    assert (lic.state, lic.action) == (State.WARNING, "notify")
    assert lic.reason == "bale licence L-1 expires on 2026-12-15, in 18 days"
    assert run.at(1, 1, resource="licence").action == ""
    run.alloc = allocation(m, at=dt.date(2027, 1, 10))  # 26 days after expiry: beyond 14 days of grace
    out = run.at(2, 1, resource="licence")
    assert (out.state, out.action) == (State.SUSPENDED, "suspend")
    assert "grace ended on 2026-12-29" in out.reason
    verdict_resources = [d for d in judging.decide(m, allocation=run.alloc, measured=measured(1, at=T0),
                                                     memory=run.memory, now=T0).decisions]
    assert [d.resource for d in verdict_resources] == ["licence"]  # a suspended tenant's usage is not judged
    assert run.at(3, 1, resource="licence").action == ""
    run.alloc = allocation(model(), at=DAY)  # renewed
    back = run.at(4, 1, resource="licence")
    assert (back.state, back.action) == (State.OK, "undo-suspend")
    assert run.memory.held("bale", "p1") == frozenset()


def test_suspended_and_revoked_licences_suspend() -> None:
    for status, words in (("suspended", "is suspended by the regulator"), ("revoked", "is revoked by the regulator")):
        run = Run(model(status=status))
        d = run.at(0, 1, resource="licence")
        assert (d.state, d.action) == (State.SUSPENDED, "suspend") and words in d.reason


def test_held_actions_count_every_track() -> None:
    run = Run(model(status="revoked"))
    run.at(0, 1, resource="licence")
    assert run.memory.held("bale", "p1") == frozenset({"suspend"})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=40), st.one_of(st.none(), st.integers(0, 80))),
                min_size=1, max_size=40))
def test_properties_of_any_sequence(steps: list[tuple[int, int | None]]) -> None:
    """Whatever the usage over time: actions follow the policy order, undo mirrors it, at most one
    step a cycle, nothing changes on unknown data, and ok means nothing is in force."""
    run = Run()
    minutes = 0
    key = ("bale", "p1", EGRESS)
    for gap, gbps in steps:
        minutes += gap
        before = run.memory.track(key)
        d = run.at(minutes, gbps)
        after = run.memory.track(key)
        assert after.taken == RULES.actions[:len(after.taken)]  # always a prefix of the graduated list
        effects = [a for a in after.taken if a != "notify"]
        assert abs(len(effects) - len([a for a in before.taken if a != "notify"])) <= 1  # one step a cycle
        if gbps is None:
            assert d.state is State.UNKNOWN and d.action == "" and after == before
        elif d.action.startswith("undo-"):
            assert before.taken[-1] == d.action.removeprefix("undo-") or before.taken[-1] == "notify"
            assert gbps * 10**9 < 40 * 10**9 * RULES.warning_at
        elif d.action and d.action != "notify":
            assert d.state is State.BREACH and gbps > 40
        if d.state is State.OK:
            assert after.taken == ()


def flat(run: Run, gbps: float, *, until: int) -> usage.Decision:
    """Usage ``gbps`` from minute 0 to ``until``, one cycle a minute; the last decision."""
    decision = run.at(0, gbps)
    for m in range(1, until + 1):
        decision = run.at(m, gbps)
    return decision


def test_exactly_at_breach_at_is_a_warning_not_a_breach() -> None:
    """breachAt is exceeded strictly: 40 Gbps of a 40 Gbps envelope (breachAt 100%) never breaches."""
    at_limit = flat(Run(), 40, until=20)
    assert (at_limit.state, at_limit.action) == (State.WARNING, "")
    assert at_limit.reason == "bale egress 40 Gbps ≥ 80% of 40 Gbps envelope"
    assert at_limit.usage == at_limit.envelope == Decimal(40 * 10**9)
    over = flat(Run(), 40.000000001, until=20)  # one bit per second over
    assert over.state is State.BREACH


def test_exactly_at_warning_at_is_a_warning() -> None:
    """warningAt is reached inclusively: 32 Gbps is 80% of 40 Gbps."""
    at = Run().at(0, 32)
    assert (at.state, at.action) == (State.WARNING, "notify")
    below = Run().at(0, 31.999999999)
    assert (below.state, below.action) == (State.OK, "")


def test_recovery_needs_usage_strictly_below_warning_at_for_the_whole_window() -> None:
    for gbps, undone in ((32, False), (31.999999999, True)):
        run = Run()
        for m in (0, 10, 40):
            run.at(m, 50)  # notify, then throttle at 40
        decisions = [run.at(m, gbps) for m in range(41, 60)]
        undo = [d.action for d in decisions if d.action]
        assert undo == (["undo-throttle"] if undone else []), gbps
        if undone:  # the first cycle whose 15 minutes all lie below: 41 + 15
            assert next(i for i, d in enumerate(decisions) if d.action) + 41 == 56


def test_a_breach_must_hold_at_every_point_of_the_window() -> None:
    run = Run()
    run.at(0, 50)
    assert run.at(9, 50).state is State.WARNING  # over for 9 minutes of 10
    assert run.at(10, 50).state is State.BREACH  # every point from 0 to 10
    dip = Run()
    dip.at(0, 50)
    dip.at(5, 39)  # one minute under the breach threshold resets the run-up
    dip.at(6, 50)
    assert [dip.at(m, 50).state for m in (10, 15, 16)] == [State.WARNING, State.WARNING, State.BREACH]


def test_an_unknown_point_in_the_window_neither_breaches_nor_recovers() -> None:
    run = Run()
    run.at(0, 50)
    run.at(4, None)  # one minute without data
    run.at(5, 50)
    assert run.at(10, 50).state is State.WARNING  # minute 4 unknown: not sustained yet
    assert run.at(15, 50).state is State.BREACH  # 5..15 measured and over
    for m in (16, 45):
        run.at(m, 50)
    run.at(46, 10)
    run.at(50, None)
    run.at(51, 10)
    assert [run.at(m, 10).action for m in (61, 65, 66)] == ["", "", "undo-throttle"]


def test_a_fresh_process_decides_like_a_long_running_loop() -> None:
    """The sustained breach comes from the history, not from memory: a process started at minute 12
    with no state takes the same action as one that watched from minute 0."""
    loop = Run()
    for m in range(0, 13):
        kept = loop.at(m, 46)
    fresh = Run()
    fresh.timeline = list(loop.timeline)
    now = T0 + dt.timedelta(minutes=12)
    first = next(d for d in judging.decide(fresh.model, allocation=fresh.alloc, measured=fresh.history(12),
                                           memory=usage.Memory(), now=now).decisions if d.resource == EGRESS)
    assert (first.state, first.action) == (kept.state, "notify") == (State.BREACH, "notify")


def test_reasons_spell_units_without_reparsing_text() -> None:
    assert judging._amount("memory", Decimal(3 * 2**30)) == "3 GiB"
    assert judging._amount("cpu", Decimal("12.5")) == "12.5 cores"
    assert judging._amount("nvidia.com/gpu", Decimal(4)) == "4 GPUs"
    assert judging._amount("storage/ssd", Decimal(512)) == "512 bytes"
    assert judging._amount(EGRESS, Decimal(46_200_000_000)) == "46.2 Gbps"


# The recovery path step by step, every reason and the memory kept (hand-derived from the rules:
# warning 80% of 40 Gbps = 32 Gbps, recovery window 15 min = 16 points at a one-minute step).

def _track(run: Run) -> usage.Track:
    return run.memory.track(("bale", "p1", EGRESS))


def test_recovery_undoes_the_newest_action_first_and_says_why_at_each_step() -> None:
    run = Run()
    for m in (0, 10, 40, 70):
        run.at(m, 50)
    assert _track(run) == usage.Track(warned=True, taken=("notify", "throttle", "scale-down"),
                                      acted_at=T0 + dt.timedelta(minutes=70))
    start = run.at(71, 10)
    assert (start.state, start.action, start.level) == (State.BREACH, "", 3)
    assert start.reason == ("bale egress 10 Gbps below 80% of the 40 Gbps envelope for 0 s (recovery window 15 min)"
                            "; in force: notify, throttle, scale-down")
    first = run.at(86, 10)  # minutes 71..86: 16 points below
    assert (first.state, first.action, first.level) == (State.BREACH, "undo-scale-down", 2)
    assert first.reason == "bale egress 10 Gbps below 80% of the 40 Gbps envelope for 15 min: undoing scale-down"
    assert _track(run) == usage.Track(warned=True, taken=("notify", "throttle"),
                                      acted_at=T0 + dt.timedelta(minutes=86))
    second = run.at(87, 10)  # the notice under throttle needs no undoing: the track ends
    assert (second.state, second.action, second.level) == (State.OK, "undo-throttle", 0)
    assert second.reason == "bale egress 10 Gbps below 80% of the 40 Gbps envelope for 15 min: undoing throttle"
    assert run.memory.tracks == {}


def test_under_the_envelope_but_not_below_warning_at_keeps_the_actions_and_says_so() -> None:
    run = Run()
    for m in (0, 10, 40):
        run.at(m, 50)
    held = run.at(41, 35)
    assert (held.state, held.action) == (State.BREACH, "")
    assert held.reason == ("bale egress 35 Gbps is back under the envelope but not below 80% of the 40 Gbps "
                           "envelope; recovery needs 15 min below it; in force: notify, throttle")


def test_a_notice_alone_is_not_undone_the_tenant_is_back_to_normal() -> None:
    run = Run()
    run.at(0, 50)
    assert run.at(10, 50).action == "notify"  # the first action of the policy is a notice
    run.at(11, 10)
    back = run.at(26, 10)  # minutes 11..26 below
    assert (back.state, back.action, back.level) == (State.OK, "", 0)
    assert back.reason == "bale egress 10 Gbps below 80% of the 40 Gbps envelope for 15 min: back to normal"
    assert run.memory.tracks == {}


def test_a_new_warning_keeps_the_actions_in_force_and_when_they_were_taken() -> None:
    run = Run()
    run.timeline.append((0, 50))  # a fresh process: the history is already over for ten minutes
    first = run.at(10, 50)
    assert (first.state, first.action) == (State.BREACH, "notify")
    assert _track(run) == usage.Track(warned=False, taken=("notify",), acted_at=T0 + dt.timedelta(minutes=10))
    run.at(11, 35)
    again = run.at(12, 50)  # over again, not for the whole window: a warning notice, actions kept
    assert (again.state, again.action) == (State.WARNING, "notify")
    assert _track(run) == usage.Track(warned=True, taken=("notify",), acted_at=T0 + dt.timedelta(minutes=10))


def test_a_policy_without_actions_breaches_without_acting_or_claiming_actions() -> None:
    rules = policies.Enforcement(warning_at=Decimal("0.8"), breach_at=Decimal(1), sustained_for=600,
                                 grace_period=1800, recovery_window=900, actions=())
    run = Run(model(rules=rules))
    run.at(0, 50)
    breach = run.at(10, 50)
    assert (breach.state, breach.action) == (State.BREACH, "")
    assert breach.reason == "bale egress 50 Gbps > 40 Gbps envelope for 10 min (window 10 min)"


def test_a_measurement_older_than_now_is_no_measurement() -> None:
    m = model()
    verdict = judging.decide(m, allocation=allocation(m), measured=measured(50, at=T0), memory=usage.Memory(),
                             now=T0 + dt.timedelta(minutes=1))
    egress = next(d for d in verdict.decisions if d.resource == EGRESS)
    assert (egress.state, egress.usage) == (State.UNKNOWN, None)
    assert egress.reason == "bale egress: no data (no measurement at this cycle's time); nothing is escalated or undone"


def _series(values: list[tuple[int, float]], *, step: int) -> usage.Series:
    """Points at ``T0 + seconds`` with the given Gbps."""
    return usage.Series(points=tuple(point(g, at=T0 + dt.timedelta(seconds=s)) for s, g in values), step=step)


def test_the_window_needs_its_seconds_divided_by_the_step_plus_one_points() -> None:
    # 600 s at a 70 s step: 600 // 70 + 1 = 9 points (not 600 / 70 + 1 = 9.57…, which would need 10).
    m = model()
    nine = _series([(70 * k, 50) for k in range(9)], step=70)  # 0 s … 560 s
    verdict = judging.decide(m, allocation=allocation(m), measured=nine, memory=usage.Memory(),
                             now=T0 + dt.timedelta(seconds=560))
    assert next(d for d in verdict.decisions if d.resource == EGRESS).state is State.BREACH
    # A one-second step and a four-second window: five points, so three are not enough.
    rules = policies.Enforcement(warning_at=Decimal("0.8"), breach_at=Decimal(1), sustained_for=4,
                                 grace_period=1800, recovery_window=900, actions=("notify",))
    short = model(rules=rules)
    for count, state in ((3, State.WARNING), (5, State.BREACH)):
        series = _series([(s, 50) for s in range(10 - count + 1, 11)], step=1)
        verdict = judging.decide(short, allocation=allocation(short), measured=series, memory=usage.Memory(),
                                 now=T0 + dt.timedelta(seconds=10))
        assert next(d for d in verdict.decisions if d.resource == EGRESS).state is state, count


def test_durations_in_reasons_change_unit_at_one_minute_and_two_hours() -> None:
    cases = {59: "59 s", 60: "1 min", 119 * 60 + 59: "119 min", 120 * 60: "2 h 0 min", 180 * 60: "3 h 0 min",
             185 * 60: "3 h 5 min", -5: "0 s"}
    assert {s: judging._duration(dt.timedelta(seconds=s)) for s in cases} == cases


def test_resources_are_named_as_people_say_them() -> None:
    names = {r: judging._name(r) for r in ("cpu", "nvidia.com/gpu", "storage/ssd-standard", EGRESS)}
    assert names == {"cpu": "cpu", "nvidia.com/gpu": "GPUs", "storage/ssd-standard": "storage ssd-standard",
                     EGRESS: "egress"}


def test_usage_within_the_envelope_says_so() -> None:
    ok = Run().at(0, 10)
    assert (ok.state, ok.action, ok.reason) == (State.OK, "", "bale egress 10 Gbps within 40 Gbps envelope")


def test_breach_at_scales_the_envelope() -> None:
    # breachAt 110% of 40 Gbps = 44 Gbps: 43 Gbps held for the window is a warning, 45 a breach.
    rules = policies.Enforcement(warning_at=Decimal("0.8"), breach_at=Decimal("1.1"), sustained_for=600,
                                 grace_period=1800, recovery_window=900, actions=("notify",))
    for gbps, state in ((43, State.WARNING), (45, State.BREACH)):
        run = Run(model(rules=rules))
        run.at(0, gbps)
        assert run.at(10, gbps).state is state, gbps


def test_only_the_pools_asked_for_are_judged() -> None:
    m = model()
    args = {"allocation": allocation(m), "measured": measured(10, at=T0), "memory": usage.Memory(), "now": T0}
    assert {d.resource for d in judging.decide(m, pools=("p1",), **args).decisions} == {"licence", "cpu", EGRESS}
    assert judging.decide(m, pools=("p2",), **args).decisions == ()


def test_every_namespace_without_data_is_named_once() -> None:
    m = model()
    nothing = usage.Usage(at=T0, amounts={}, seen=frozenset())
    verdict = judging.decide(m, allocation=allocation(m), measured=usage.Series.of(nothing), memory=usage.Memory(),
                             now=T0)
    egress = next(d for d in verdict.decisions if d.resource == EGRESS)
    a, b = (nothing.missing(ns, EGRESS) for ns in ("bale-a", "bale-b"))
    assert a and b and a != b
    assert egress.reason == f"bale egress: no data ({a}; {b}); nothing is escalated or undone"


def test_a_licence_lifecycle_decision_by_decision_with_the_memory_kept() -> None:
    """Expiry 2026-12-15, 14 days of grace (so it ends 2026-12-29), judged on 2026-11-27 (18 days before)."""
    m = model(expires=dt.date(2026, 12, 15))
    run = Run(m)
    key = ("bale", "p1", "licence")

    def step(minute: float, state: State, action: str, reason: str, level: int) -> None:
        d = run.at(minute, 1, resource="licence")
        assert (d.tenant, d.pool, d.state, d.action, d.reason, d.level, d.usage, d.envelope) == (
            "bale", "p1", state, action, f"bale licence L-1 {reason}", level, None, None)

    step(0, State.WARNING, "notify", "expires on 2026-12-15, in 18 days", 0)
    assert run.memory.track(key) == usage.Track(warned=True)
    step(1, State.WARNING, "", "expires on 2026-12-15, in 18 days", 0)
    run.alloc = allocation(m, at=dt.date(2026, 12, 20))
    step(2, State.WARNING, "", "expired on 2026-12-15; served in grace until 2026-12-29", 0)
    assert run.memory.track(key) == usage.Track(warned=True)
    run.alloc = allocation(m, at=dt.date(2027, 1, 10))
    step(3, State.SUSPENDED, "suspend",
         "expired on 2026-12-15 and its 14-day grace ended on 2026-12-29; suspending the tenant", 1)
    assert run.memory.track(key) == usage.Track(warned=True, taken=("suspend",))
    step(4, State.SUSPENDED, "",
         "expired on 2026-12-15 and its 14-day grace ended on 2026-12-29; the tenant stays suspended", 1)
    run.model = model()  # renewed until 2028
    run.alloc = allocation(run.model, at=DAY)
    step(5, State.OK, "undo-suspend", "is active until 2028-01-01; lifting the suspension", 0)
    assert run.memory.track(key) == usage.Track(warned=True)  # the episode's notice is still remembered
    step(6, State.OK, "", "is active until 2028-01-01", 0)
    assert key not in run.memory.tracks
