"""policy.yaml: tiers, licence rules, granularity and enforcement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dctenant.domain import policies, resources
from tests.conftest import QuotasCopy

POLICY = "policy.yaml"


def test_shipped_policy(qcopy: QuotasCopy) -> None:
    policy = qcopy.load().policy
    assert policy.name == "ndc-policy"
    assert {n: (t.weight, t.guaranteed) for n, t in policy.tiers.items()} == {
        "national": (Decimal(4), Decimal("0.5")),
        "standard": (Decimal(2), Decimal("0.25")),
        "startup": (Decimal(1), Decimal(0)),
    }
    assert policy.tiers["national"].description == "Messengers designated national platforms by the regulator"
    assert policy.licences == policies.LicenceRules(warning_days=30, grace_days=14)
    assert policy.granularity[resources.Kind.MEMORY] == Decimal(2**20)
    assert policy.granularity[resources.Kind.BANDWIDTH] == Decimal(10**6)
    assert policy.enforcement == policies.Enforcement(
        warning_at=Decimal("0.8"), breach_at=Decimal(1), sustained_for=600, grace_period=1800,
        recovery_window=900, actions=("notify", "throttle", "scale-down", "suspend"))
    assert policy.unit("storage/ssd-standard") == Decimal(2**20)
    assert policy.unit("nvidia.com/gpu") == Decimal(1)


def test_optional_sections_take_defaults(qcopy: QuotasCopy) -> None:
    text = qcopy.read(POLICY)
    qcopy.write(POLICY, text[: text.index("\n  licences:")] + "\n")
    policy = qcopy.load().policy
    assert policy.licences == policies.LicenceRules()
    assert policy.granularity == policies.DEFAULT_GRANULARITY
    assert policy.enforcement == policies.Enforcement()


def test_custom_granularity_and_durations(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "      cpu: 1m\n", "      cpu: 100m\n")
    qcopy.edit(POLICY, "    sustainedFor: 10m\n", "    sustainedFor: 2h\n")
    qcopy.edit(POLICY, "    gracePeriod: 30m\n", "    gracePeriod: 90s\n")
    qcopy.edit(POLICY, "    recoveryWindow: 15m\n", "    recoveryWindow: 1d\n")
    policy = qcopy.load().policy
    assert policy.granularity[resources.Kind.CPU] == Decimal("0.1")
    assert (policy.enforcement.sustained_for, policy.enforcement.grace_period,
            policy.enforcement.recovery_window) == (7200, 90, 86400)


@pytest.mark.parametrize(("startup", "national"), [("0.004", "4"), ("1", "1000"), ("0.002", "2")])
def test_weights_at_the_edges_of_the_exact_range_are_accepted(qcopy: QuotasCopy, startup: str, national: str) -> None:
    qcopy.edit(POLICY, "      weight: 1\n", f"      weight: {startup}\n")
    qcopy.edit(POLICY, "      weight: 4\n", f"      weight: {national}\n")
    tiers = qcopy.load().policy.tiers
    assert (tiers["startup"].weight, tiers["national"].weight) == (Decimal(startup), Decimal(national))


@pytest.mark.parametrize(("old", "new", "field", "message", "hint"), [
    ("      weight: 1\n", "      weight: 0\n", "spec.tiers.startup.weight",
     "weight 0 is outside 0.001 to 1000, the range in which the allocator's fill is exact",
     "write a number such as 1, 2 or 4"),
    ("      weight: 4\n", "      weight: 1000.1\n", "spec.tiers.national.weight",
     "weight 1000.1 is outside 0.001 to 1000, the range in which the allocator's fill is exact",
     "write a number such as 1, 2 or 4"),
    ("      weight: 1\n", "      weight: 0.0009\n", "spec.tiers.startup.weight",
     "weight 0.0009 is outside 0.001 to 1000, the range in which the allocator's fill is exact",
     "write a number such as 1, 2 or 4"),
    # national's 4 against startup's 0.0039 is a ratio of 1025.6: over the 1000 the allocator is exact for.
    ("      weight: 1\n", "      weight: 0.0039\n", "spec.tiers.national.weight",
     "tier national's weight 4 is over 1000 times tier startup's 0.0039; the allocator is exact for weight "
     "ratios up to 1000", "raise startup's weight or lower national's"),
    ("      guaranteed: 25%\n", "      guaranteed: 125%\n", "spec.tiers.standard.guaranteed",
     'invalid percentage "125%": it is over 100%; write a percentage from "0%" to "100%", such as "5%"', None),
    ("      guaranteed: 25%\n", "      guaranteed: 1.5\n", "spec.tiers.standard.guaranteed",
     "must be between 0 and 1, got 1.5", 'write a percentage such as "1.5%"'),
    ("      weight: 2\n", "      weight: two\n", "spec.tiers.standard.weight",
     'invalid ratio "two": it is not a number or a percentage; write a number such as "1.5" or "150%"', None),
    ("    warningDays: 30 ", "    warningDays: -1 ", "spec.licences.warningDays", "must be at least 0, got -1", None),
    ("    graceDays: 14 ", "    graceDays: '14' ", "spec.licences.graceDays",
     "expected a whole number, got a string", None),
    ("      memory: 1Mi\n", "      memory: 0\n", "spec.allocation.granularity.memory",
     "granularity must be above 0", 'e.g. "1m" for cpu or "1Mi" for memory'),
    ("    sustainedFor: 10m\n", "    sustainedFor: 10 minutes\n", "spec.enforcement.sustainedFor",
     "invalid duration '10 minutes'", 'write a whole number and a unit: "30s", "10m", "2h", "1d"'),
    ("    warningAt: 80%\n", "    warningAt: 120%\n", "spec.enforcement.warningAt",
     'invalid percentage "120%": it is over 100%; write a percentage from "0%" to "100%", such as "5%"', None),
    ("    breachAt: 100%\n", "    breachAt: 70%\n", "spec.enforcement.warningAt",
     "warningAt must not be above breachAt", "e.g. warningAt: 80%, breachAt: 100%"),
    ("    actions: [notify, throttle, scale-down, suspend]\n", "    actions: [notify, suspend, throttle]\n",
     "spec.enforcement.actions", "actions must be graduated from mildest to strongest",
     "order: notify, throttle, scale-down, suspend"),
    ("    actions: [notify, throttle, scale-down, suspend]\n", "    actions: [notify, notify]\n",
     "spec.enforcement.actions", "an action is listed twice", None),
    ("    actions: [notify, throttle, scale-down, suspend]\n", "    actions: [notify, throtle]\n",
     "spec.enforcement.actions[1]", '"throtle" is not allowed', 'did you mean "throttle"?'),
    ("    startup:\n", "    Start_Up:\n", "spec.tiers.Start_Up",
     "\"Start_Up\" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)",
     'for example "start-up"'),
])
def test_policy_problem(qcopy: QuotasCopy, old: str, new: str, field: str, message: str, hint: str | None) -> None:
    qcopy.edit(POLICY, old, new)
    problems = [p for p in qcopy.problems() if p.file == qcopy.file(POLICY)]
    assert len(problems) == 1, problems
    problem = problems[0]
    line_text = new.rstrip("\n").rstrip()
    expected_line = next(i for i, ln in enumerate(qcopy.read(POLICY).splitlines(), 1) if ln.startswith(line_text))
    if field == "spec.enforcement.warningAt" and "breachAt" in new:
        expected_line = qcopy.line(POLICY, "    warningAt: 80%")
    if "times tier" in message:  # a ratio is reported on the heavier tier's weight
        expected_line = qcopy.line(POLICY, "      weight: 4")
    assert (problem.line, problem.field, problem.message, problem.hint) == (expected_line, field, message, hint)


def test_missing_tiers_reports_once(qcopy: QuotasCopy) -> None:
    text = qcopy.read(POLICY)
    start, end = text.index("  tiers:\n"), text.index("\n  licences:")
    qcopy.write(POLICY, text[:start] + text[end + 1:])
    problems = qcopy.problems()
    assert (problems[0].file, problems[0].line, problems[0].field, problems[0].message) == (
        qcopy.file(POLICY), qcopy.line(POLICY, "spec:"), "spec", 'missing required field "tiers"')
    assert [p for p in problems if p.file == qcopy.file(POLICY)] == [problems[0]]
    # With no tiers, every tenant's tier is unknown, and each tenant file says so.
    assert {p.message for p in problems[1:]} >= {'unknown tier "national"'}


def test_missing_policy_file(qcopy: QuotasCopy) -> None:
    qcopy.path(POLICY).unlink()
    problems = qcopy.problems()
    assert [(p.file, p.line, p.message) for p in problems] == [(qcopy.file(POLICY), None, "file not found")]


def test_misspelt_tiers_is_unknown_and_tiers_missing(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "  tiers:\n", "  teirs:\n")
    problems = [p for p in qcopy.problems() if p.file == qcopy.file(POLICY)]
    assert [(p.line, p.field, p.message, p.hint) for p in problems] == [
        (qcopy.line(POLICY, "  teirs:"), "spec.teirs", 'unknown field "teirs"', 'did you mean "tiers"?'),
        (qcopy.line(POLICY, "spec:"), "spec", 'missing required field "tiers"', None),
    ]


def test_kubernetes_section_defaults_when_left_out(qcopy: QuotasCopy) -> None:
    text = qcopy.read(POLICY)
    qcopy.write(POLICY, text[: text.index("\n  kubernetes:")] + "\n")
    assert qcopy.load().policy.kubernetes == policies.Namespaces()


ENFORCER_BLOCK = "    enforcer:\n"


def test_shipped_enforcer_settings(qcopy: QuotasCopy) -> None:
    assert qcopy.load().policy.kubernetes.enforcer == policies.Enforcer(
        prometheus_url="http://prometheus-operated.monitoring.svc:9090", image="ghcr.io/dctenant/dctenant:0.1.0",
        schedule="*/5 * * * *", ledger="sqlite:////state/ledger.db", state_size=Decimal(2**30),
        environment_secret="dctenant-enforcer")


def test_without_a_prometheus_url_the_enforcer_is_off(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "      prometheusUrl: http://prometheus-operated.monitoring.svc:9090\n", "")
    enforcer = qcopy.load().policy.kubernetes.enforcer
    assert not enforcer.enabled and enforcer.image == "ghcr.io/dctenant/dctenant:0.1.0"
    text = qcopy.read(POLICY)
    qcopy.write(POLICY, text[: text.index(ENFORCER_BLOCK)])
    assert qcopy.load().policy.kubernetes.enforcer == policies.Enforcer()


def test_enforcer_ledger_secret_and_storage_class(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "      ledger: sqlite:////state/ledger.db ", "      ledger: {secret: dctenant-ledger, key: url}")
    qcopy.edit(POLICY, "      stateStorage: {size: 1Gi}", "      stateStorage: {size: 5Gi, storageClass: ssd-standard}")
    qcopy.edit(POLICY, '      schedule: "*/5 * * * *"', "      schedule: '@hourly'")
    enforcer = qcopy.load().policy.kubernetes.enforcer
    assert (enforcer.ledger, enforcer.ledger_secret) == ("", policies.SecretRef(name="dctenant-ledger", key="url"))
    assert (enforcer.state_size, enforcer.storage_class, enforcer.schedule) == (
        Decimal(5 * 2**30), "ssd-standard", "@hourly")


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("      prometheusUrl: http://prometheus-operated.monitoring.svc:9090\n",
     "      prometheusUrl: prometheus-operated:9090\n", "spec.kubernetes.enforcer.prometheusUrl",
     '"prometheus-operated:9090" is not an http(s) URL'),
    ("      prometheusUrl: http://prometheus-operated.monitoring.svc:9090\n",
     "      prometheusUrl: https://admin:secret@thanos.example\n", "spec.kubernetes.enforcer.prometheusUrl",
     "the URL holds a password"),
    ('      schedule: "*/5 * * * *"', '      schedule: "every 5 minutes"', "spec.kubernetes.enforcer.schedule",
     '"every 5 minutes" is not a cron schedule'),
    ('      schedule: "*/5 * * * *"', '      schedule: "*/5 * * *"', "spec.kubernetes.enforcer.schedule",
     '"*/5 * * *" is not a cron schedule'),
    ("      image: ghcr.io/dctenant/dctenant:0.1.0\n", "      image: 'ghcr.io/dctenant/dctenant 0.1'\n",
     "spec.kubernetes.enforcer.image", '"ghcr.io/dctenant/dctenant 0.1" is not a container image reference'),
    ("      ledger: sqlite:////state/ledger.db ", "      ledger: mysql://db/ledger ", "spec.kubernetes.enforcer.ledger",
     '"mysql://db/ledger" is not a SQLite or PostgreSQL ledger'),
    ("      ledger: sqlite:////state/ledger.db ", "      ledger: postgresql://u:pw@db/ledger ",
     "spec.kubernetes.enforcer.ledger", "the ledger URL holds a password"),
    ("      ledger: sqlite:////state/ledger.db ", "      ledger: {secret: dctenant-ledger} ",
     "spec.kubernetes.enforcer.ledger", 'missing required field "key"'),
    ("      stateStorage: {size: 1Gi}", "      stateStorage: {size: 0}", "spec.kubernetes.enforcer.stateStorage.size",
     "must be above 0"),
    ("      stateStorage: {size: 1Gi}", "      stateStorage: {size: 1Gi, storageClass: SSD_Fast}",
     "spec.kubernetes.enforcer.stateStorage.storageClass", '"SSD_Fast" is not a DNS-1123 subdomain'),
    ("      environmentSecret: dctenant-enforcer", "      environmentSecret: Enforcer_Env",
     "spec.kubernetes.enforcer.environmentSecret", '"Enforcer_Env" is not a DNS-1123 subdomain'),
    ("      schedule:", "      schedul:", "spec.kubernetes.enforcer.schedul", 'unknown field "schedul"'),
])
def test_enforcer_problem(qcopy: QuotasCopy, old: str, new: str, field: str, message: str) -> None:
    qcopy.edit(POLICY, old, new)
    problems = [p for p in qcopy.problems() if p.file == qcopy.file(POLICY)]
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.field == field and problem.message.startswith(message), problem
    assert problem.line is not None and problem.line > qcopy.line(POLICY, ENFORCER_BLOCK.rstrip("\n"))
