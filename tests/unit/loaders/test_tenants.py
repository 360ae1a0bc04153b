"""tenants/<id>.yaml: one tenant, checked against the data centre and the policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dctenant.domain import tenants
from dctenant.errors import Problem
from tests.conftest import QuotasCopy

BALE = "tenants/bale.yaml"
WISPI = "tenants/wispi.yaml"
Ti = 2**40


def expect(problem: Problem, qcopy: QuotasCopy, rel: str, line_text: str, field: str, message: str,
           hint: str | None = None) -> None:
    assert problem.file == qcopy.file(rel)
    assert problem.line == qcopy.line(rel, line_text)
    assert problem.field == field
    assert problem.message == message
    assert problem.hint == hint
    assert str(problem) == f"{qcopy.file(rel)}:{problem.line}: {field}: {message}" + (f" ({hint})" if hint else "")


def test_shipped_tenant(qcopy: QuotasCopy) -> None:
    bale = qcopy.load().tenant("bale")
    assert bale.display_name.en == "Bale"
    assert bale.display_name.fa == "بله"
    assert bale.tier == "national"
    assert bale.licence == tenants.Licence(number="CRA-MSG-1401-0007", issued=dt.date(2022, 4, 12),
                                           expires=dt.date(2027, 4, 11), status=tenants.LicenceStatus.ACTIVE)
    assert bale.owners == tenants.Owners(groups=("bale-platform-admins", "bale-sre"),
                                         users=("ops@bale.ir", "noc@bale.ir"))
    assert list(bale.demand) == ["thr-ab", "thr-pd", "mhd-1"]
    assert bale.demand["thr-pd"]["nvidia.com/gpu"] == Decimal(96)
    assert bale.demand["thr-ab"]["bandwidth/egress"] == Decimal(650 * 10**9)
    assert [ns.name for ns in bale.namespaces] == ["bale-messaging", "bale-media", "bale-ml", "bale-push"]
    assert bale.namespaces[0].quota["storage/nvme-replicated"] == Decimal(140 * Ti)
    assert bale.namespace_total("thr-ab")["cpu"] == Decimal(5000)


def test_unknown_field_with_did_you_mean(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    expires: 2027-04-11\n", "    expires: 2027-04-11\n    expiry: 2027-04-11\n")
    expect(qcopy.only_problem(), qcopy, BALE, "    expiry: 2027-04-11", "spec.licence.expiry",
           'unknown field "expiry"', 'did you mean "expires"?')


def test_unknown_field_far_from_any_lists_known_fields(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: national\n  colour: blue\n")
    expect(qcopy.only_problem(), qcopy, BALE, "  colour: blue", "spec.colour", 'unknown field "colour"',
           "known fields: demand, displayName, domains, isolation, licence, namespaces, owners, tier")


def test_missing_required_field_is_reported_once(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "")
    expect(qcopy.only_problem(), qcopy, BALE, "spec:", "spec", 'missing required field "tier"')


def test_missing_licence_field(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, '    number: "CRA-MSG-1401-0007"\n', "")
    expect(qcopy.only_problem(), qcopy, BALE, "  licence:", "spec.licence", 'missing required field "number"')


def test_missing_namespace_fields(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "      pool: mhd-1\n", "")
    expect(qcopy.only_problem(), qcopy, BALE, "    - name: bale-push", "spec.namespaces[3]",
           'missing required field "pool"')


@pytest.mark.parametrize(("old", "new", "field", "message", "hint"), [
    ("    groups: [bale-platform-admins, bale-sre]\n", "    groups: bale-sre\n", "spec.owners.groups",
     "expected a list, got a string", "write it as a YAML list (- item)"),
    ("  tier: national\n", "  tier: 4\n", "spec.tier", "expected a string, got an integer", "quote the value"),
    ("    status: active\n", "    status: [active]\n", "spec.licence.status", "expected a string, got a list",
     "quote the value"),
    ('  displayName: {en: "Bale", fa: "بله"}\n', '  displayName: "Bale"\n', "spec.displayName",
     "expected a mapping, got a string", None),
    ("    issued: 2022-04-12\n", "    issued: yesterday\n", "spec.licence.issued", "expected a date, got 'yesterday'",
     "write it as YYYY-MM-DD, e.g. 2027-03-21"),
    ("    status: active\n", "    status: cancelled\n", "spec.licence.status", '"cancelled" is not allowed',
     "one of: active, suspended, revoked"),
    ("    status: active\n", "    status: activ\n", "spec.licence.status", '"activ" is not allowed',
     'did you mean "active"?'),
])
def test_wrong_type_or_value(qcopy: QuotasCopy, old: str, new: str, field: str, message: str,
                             hint: str | None) -> None:
    qcopy.edit(BALE, old, new)
    expect(qcopy.only_problem(), qcopy, BALE, new.rstrip("\n"), field, message, hint)


def test_invalid_quantity_with_suggestion(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "      memory: 20Ti\n", "      memory: 10GB\n")
    # Only the quantity is reported: the namespaces' memory quotas are not also compared with a
    # demand of 0 that only exists because the demand could not be read.
    expect(qcopy.only_problem(), qcopy, BALE, "      memory: 10GB", "spec.demand.thr-ab.memory",
           'invalid quantity "10GB": "GB" is not a Kubernetes unit; write "10G" (10×10^9 bytes, decimal) or '
           '"10Gi" (10×2^30 bytes, binary)')


def test_invalid_bandwidth_with_suggestion(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '          egress: "1.5Gbps"\n', "          egress: 1.5Gb\n")
    expect(qcopy.only_problem(), qcopy, WISPI, "          egress: 1.5Gb", "spec.namespaces[1].quota.bandwidth.egress",
           'invalid bandwidth "1.5Gb": "Gb" is not a bandwidth unit; write "1500Mbps"')


def test_unquoted_fraction_is_read_as_written(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '        cpu: "40"\n', "        cpu: 40.5\n")
    assert qcopy.load().tenant("wispi").namespaces[1].quota["cpu"] == Decimal("40.5")


def test_duplicate_tenant_ids_in_two_files(qcopy: QuotasCopy) -> None:
    qcopy.write("tenants/bale2.yaml", qcopy.read(BALE))
    problems = qcopy.problems()
    assert len(problems) == 2
    mismatch, duplicate = problems
    expect(mismatch, qcopy, "tenants/bale2.yaml", "  name: bale", "metadata.name",
           'tenant "bale" is in a file named "bale2.yaml"',
           "rename the file to bale.yaml or set metadata.name: bale2")
    expect(duplicate, qcopy, "tenants/bale2.yaml", "  name: bale", "metadata.name", 'duplicate tenant id "bale"',
           f"it is already declared in {qcopy.file(BALE)}")


def test_duplicate_tenant_is_reported_on_the_later_file(qcopy: QuotasCopy) -> None:
    # Tenant files are read in name order, and "bale-old.yaml" sorts before "bale.yaml".
    qcopy.write("tenants/bale-old.yaml", qcopy.read(BALE))
    problems = qcopy.problems()
    assert [(p.file, p.message) for p in problems] == [
        (qcopy.file("tenants/bale-old.yaml"), 'tenant "bale" is in a file named "bale-old.yaml"'),
        (qcopy.file(BALE), 'duplicate tenant id "bale"'),
    ]
    assert problems[1].hint == f"it is already declared in {qcopy.file('tenants/bale-old.yaml')}"


def test_duplicate_tenant_id_through_yml_extension(qcopy: QuotasCopy) -> None:
    qcopy.write("tenants/bale.yml", qcopy.read(BALE))
    problems = qcopy.problems()
    # "bale.yml" has the stem "bale", so the only problem is the duplicate (reported on the later file).
    assert [(p.file, p.field, p.message) for p in problems] == [
        (qcopy.file("tenants/bale.yml"), "metadata.name", 'duplicate tenant id "bale"')]


def test_file_name_differs_from_metadata_name(qcopy: QuotasCopy) -> None:
    qcopy.path(WISPI).rename(qcopy.path("tenants/wispy.yaml"))
    expect(qcopy.only_problem(), qcopy, "tenants/wispy.yaml", "  name: wispi", "metadata.name",
           'tenant "wispi" is in a file named "wispy.yaml"',
           "rename the file to wispi.yaml or set metadata.name: wispy")


def test_tenant_id_longer_than_40(qcopy: QuotasCopy) -> None:
    long_id = "w" * 41
    qcopy.path(WISPI).rename(qcopy.path(f"tenants/{long_id}.yaml"))
    rel = f"tenants/{long_id}.yaml"
    text = qcopy.read(rel).replace("wispi", long_id)
    qcopy.write(rel, text)
    problem = qcopy.only_problem()
    assert (problem.file, problem.line, problem.field) == (qcopy.file(rel), qcopy.line(rel, f"  name: {long_id}"),
                                                           "metadata.name")
    assert problem.message.endswith("at most 40 characters)")


def test_duplicate_namespace_in_a_tenant(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    - name: bale-media\n", "    - name: bale-messaging\n")
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    lines = [i for i, ln in enumerate(qcopy.read(BALE).splitlines(), 1) if ln == "    - name: bale-messaging"]
    assert problem.line == lines[1]
    assert problem.field == "spec.namespaces[1].name"
    assert problem.message == 'duplicate namespace "bale-messaging"'
    assert problem.hint == "it is already declared as namespaces[0]"


def test_namespace_name_not_dns_1123(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    - name: bale-media\n", "    - name: bale_Media\n")
    expect(qcopy.only_problem(), qcopy, BALE, "    - name: bale_Media", "spec.namespaces[1].name",
           "\"bale_Media\" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)",
           'for example "bale-media"')


def test_namespace_name_longer_than_63(qcopy: QuotasCopy) -> None:
    name = "bale-" + "m" * 59
    qcopy.edit(BALE, "    - name: bale-media\n", f"    - name: {name}\n")
    problem = qcopy.only_problem()
    assert (problem.line, problem.field) == (qcopy.line(BALE, f"    - name: {name}"), "spec.namespaces[1].name")
    assert problem.hint == f'for example "{name[:63]}"'


def test_namespace_without_tenant_prefix(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    - name: bale-media\n", "    - name: media\n")
    expect(qcopy.only_problem(), qcopy, BALE, "    - name: media", "spec.namespaces[1].name",
           'namespace "media" does not start with the tenant prefix "bale-"', 'rename it, e.g. "bale-media"')


def test_namespace_equal_to_tenant_id_lacks_the_hyphen(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    - name: bale-media\n", "    - name: bale\n")
    problem = qcopy.only_problem()
    assert problem.message == 'namespace "bale" does not start with the tenant prefix "bale-"'


def test_namespace_in_pool_without_demand(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "      pool: mhd-1\n", "      pool: isf-1\n")
    expect(qcopy.only_problem(), qcopy, BALE, "      pool: isf-1", "spec.namespaces[3].pool",
           'the tenant has no demand in pool "isf-1"',
           "add a demand for this pool under spec.demand, or use a pool it has demand in")


def test_unknown_pool_in_namespace(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "      pool: mhd-1\n", "      pool: mhd-2\n")
    expect(qcopy.only_problem(), qcopy, BALE, "      pool: mhd-2", "spec.namespaces[3].pool",
           'unknown pool "mhd-2"', 'did you mean "mhd-1"?')


def test_unknown_pool_in_demand(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "    isf-1:\n", "    isf1:\n")
    problems = qcopy.problems()
    expect(problems[0], qcopy, WISPI, "    isf1:", "spec.demand.isf1", 'unknown pool "isf1"', 'did you mean "isf-1"?')
    # Its namespaces now have no demand to draw on, which is reported for each of them.
    assert [p.field for p in problems[1:]] == ["spec.namespaces[0].pool", "spec.namespaces[1].pool"]


def test_unknown_pool_without_close_match_lists_pools(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "      pool: mhd-1\n", "      pool: tabriz\n")
    assert qcopy.only_problem().hint == "pools: thr-ab, thr-pd, isf-1, mhd-1"


def test_unknown_storage_class_with_suggestion(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "          hdd-archive: 80Ti\n", "          hdd-archiv: 80Ti\n")
    expect(qcopy.only_problem(), qcopy, WISPI, "          hdd-archiv: 80Ti",
           "spec.namespaces[1].quota.storage.hdd-archiv", 'unknown storage class "hdd-archiv"',
           'did you mean "hdd-archive"?')


def test_unknown_storage_class_in_demand_does_not_cascade(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "        hdd-archive: 100Ti\n", "        hdd-archiv: 100Ti\n")
    expect(qcopy.only_problem(), qcopy, WISPI, "        hdd-archiv: 100Ti", "spec.demand.isf-1.storage.hdd-archiv",
           'unknown storage class "hdd-archiv"', 'did you mean "hdd-archive"?')


def test_unknown_tier_with_suggestion(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: nationl\n")
    expect(qcopy.only_problem(), qcopy, BALE, "  tier: nationl", "spec.tier", 'unknown tier "nationl"',
           'did you mean "national"?')


def test_unknown_tier_without_close_match_lists_tiers(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: gold\n")
    assert qcopy.only_problem().hint == "tiers in policy.yaml: national, standard, startup"


@pytest.mark.parametrize("expires", ["2021-04-11", "2022-04-12"])
def test_licence_expires_not_after_issued(qcopy: QuotasCopy, expires: str) -> None:
    qcopy.edit(BALE, "    expires: 2027-04-11\n", f"    expires: {expires}\n")
    expect(qcopy.only_problem(), qcopy, BALE, f"    expires: {expires}", "spec.licence.expires",
           f"expires ({expires}) must be after issued (2022-04-12)", "check the two dates on the licence")


def test_quoted_dates_are_accepted(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    issued: 2022-04-12\n", '    issued: "2022-04-12"\n')
    assert qcopy.load().tenant("bale").licence.issued == dt.date(2022, 4, 12)


def test_gpu_quota_in_pool_without_gpus(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '        cpu: "40"\n', '        cpu: "40"\n        nvidia.com/gpu: 1\n')
    expect(qcopy.only_problem(), qcopy, WISPI, "        nvidia.com/gpu: 1", "spec.namespaces[1].quota.nvidia.com/gpu",
           'pool "isf-1" has no nvidia.com/gpu', "remove it from this quota, or use a pool that has it")


def test_gpu_demand_in_pool_without_gpus(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '      cpu: "300"\n', '      cpu: "300"\n      nvidia.com/gpu: 2\n')
    expect(qcopy.only_problem(), qcopy, WISPI, "      nvidia.com/gpu: 2", "spec.demand.isf-1.nvidia.com/gpu",
           'pool "isf-1" has no nvidia.com/gpu', "remove it from this demand, or use a pool that has it")


def test_storage_class_the_pool_lacks(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "          ssd-standard: 16Ti\n",
               "          ssd-standard: 16Ti\n          nvme-replicated: 1Ti\n")
    expect(qcopy.only_problem(), qcopy, WISPI, "          nvme-replicated: 1Ti",
           "spec.namespaces[0].quota.storage.nvme-replicated", 'pool "isf-1" has no storage/nvme-replicated',
           "remove it from this quota, or use a pool that has it")


def test_sum_of_namespace_quotas_above_demand(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '        cpu: "40"\n', '        cpu: "51"\n')  # 250 + 51 > 300
    problem = qcopy.only_problem()
    quota_lines = [i for i, ln in enumerate(qcopy.read(WISPI).splitlines(), 1) if ln == "      quota:"]
    assert (problem.file, problem.line, problem.field) == (
        qcopy.file(WISPI), quota_lines[0], "spec.namespaces[0].quota")
    assert problem.message == ('namespaces in pool "isf-1" together ask for 301 of cpu, above the tenant\'s demand '
                               "of 300 there")
    assert problem.hint == "lower the namespace quotas or raise spec.demand.isf-1"


def test_quota_for_resource_left_out_of_demand(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "        hdd-archive: 100Ti\n", "")
    problem = qcopy.only_problem()
    assert problem.field == "spec.namespaces[1].quota"
    assert problem.message == ('namespaces in pool "isf-1" together ask for 80Ti of storage/hdd-archive, above the '
                               "tenant's demand of 0 there")


def test_sum_equal_to_demand_is_fine(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, '        cpu: "40"\n', '        cpu: "50"\n')
    assert qcopy.load().tenant("wispi").namespace_total("isf-1")["cpu"] == Decimal(300)


def test_owners_must_name_someone(qcopy: QuotasCopy) -> None:
    qcopy.edit(WISPI, "    groups: [wispi-admins]\n    users: [ops@wispi.ir]\n", "    groups: []\n")
    expect(qcopy.only_problem(), qcopy, WISPI, "  owners:", "spec.owners", "a tenant needs at least one owner",
           "add a group or a user that administers it")


def test_wrong_kind_and_api_version(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "apiVersion: dctenant.io/v1alpha1\n", "apiVersion: v1\n")
    qcopy.edit(BALE, "kind: Tenant\n", "kind: Namespace\n")
    problems = qcopy.problems()
    assert len(problems) == 2
    expect(problems[0], qcopy, BALE, "apiVersion: v1", "apiVersion", "unsupported apiVersion 'v1'",
           "write dctenant.io/v1alpha1")
    expect(problems[1], qcopy, BALE, "kind: Namespace", "kind", "expected kind Tenant in this file, got 'Namespace'",
           "write kind: Tenant, or move the document to the right file")


def test_three_independent_mistakes_give_three_problems(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: nationl\n")
    qcopy.edit(BALE, "    expires: 2027-04-11\n", "    expires: 2021-01-01\n")
    qcopy.edit(BALE, "    - name: bale-push\n", "    - name: push\n")
    problems = qcopy.problems()
    assert [(p.line, p.field) for p in problems] == [
        (qcopy.line(BALE, "  tier: nationl"), "spec.tier"),
        (qcopy.line(BALE, "    expires: 2021-01-01"), "spec.licence.expires"),
        (qcopy.line(BALE, "    - name: push"), "spec.namespaces[3].name"),
    ]


def test_problems_in_several_files_are_all_reported(qcopy: QuotasCopy) -> None:
    qcopy.edit("datacentre.yaml", '    cpu: "2"\n', '    cpu: "2"\n    memory: "2"\n')
    qcopy.edit("policy.yaml", "    graceDays: 14 ", "    graceDays: -14 ")
    qcopy.edit(BALE, "  tier: national\n", "  tier: nationl\n")
    qcopy.edit(WISPI, "      memory: 768Gi\n", "      memory: 768G1\n")
    problems = qcopy.problems()
    assert [(p.file, p.field) for p in problems] == [
        (qcopy.file("datacentre.yaml"), "spec.overcommit.memory"),
        (qcopy.file("policy.yaml"), "spec.licences.graceDays"),
        (qcopy.file(BALE), "spec.tier"),
        (qcopy.file(WISPI), "spec.demand.isf-1.memory"),
    ]


def test_namespace_names_unique_across_tenants(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "    - name: bale-ml\n", "    - name: bale-pay-api\n")
    qcopy.write("tenants/bale-pay.yaml", qcopy.read(WISPI).replace("wispi", "bale-pay").replace(
        "bale-pay-media", "bale-pay-api"))
    # A shared namespace name needs one tenant id to be another's followed by "-", itself refused.
    (problem, prefixed) = qcopy.problems()
    assert prefixed.file == qcopy.file("tenants/bale-pay.yaml") and prefixed.field == "metadata.name"
    assert prefixed.message.startswith('tenant id "bale-pay" starts with tenant "bale" and "-"')
    rel = "tenants/bale.yaml"
    # Tenants are read in file name order: bale, bale-pay, ...; the first to declare a name keeps it.
    assert problem.file in (qcopy.file(rel), qcopy.file("tenants/bale-pay.yaml"))
    other = "tenants/bale-pay.yaml" if problem.file == qcopy.file(rel) else rel
    owner = "bale-pay" if problem.file == qcopy.file(rel) else "bale"
    assert problem.message == f'namespace "bale-pay-api" is also declared by tenant "{owner}"'
    here = rel if other != rel else "tenants/bale-pay.yaml"
    name_lines = [i for i, ln in enumerate(qcopy.read(here).splitlines(), 1) if ln == "    - name: bale-pay-api"]
    assert problem.line == name_lines[0]
    assert problem.hint == "namespace names must be unique in the data centre"


def test_invalid_tier_is_reported_as_unknown_in_its_tenants(qcopy: QuotasCopy) -> None:
    # Documented in docs/quotas.md: a tier that cannot be read is unknown to the tenant files too.
    qcopy.edit("policy.yaml", "      weight: 1\n", "      weight: -1\n")
    problems = qcopy.problems()
    assert problems[0].field == "spec.tiers.startup.weight"
    startups = sorted(p.name for p in qcopy.path("tenants").glob("*.yaml") if "tier: startup" in p.read_text())
    assert [(p.file, p.message) for p in problems[1:]] == [
        (qcopy.file(f"tenants/{name}"), 'unknown tier "startup"') for name in startups]
