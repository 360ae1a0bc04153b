"""datacentre.yaml: storage classes, pools, reserve (absolute and percent) and overcommit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dctenant.domain import pools, quantities
from tests.conftest import QuotasCopy

DC = "datacentre.yaml"
Ti = 2**40
Pi = 2**50


def q(text: str) -> Decimal:
    return quantities.Quantity.parse(text)


def bps(text: str) -> Decimal:
    return quantities.Bandwidth.parse(text)


def test_shipped_pools(qcopy: QuotasCopy) -> None:
    dc = qcopy.load().datacentre
    assert dc.name == "ndc-iran"
    assert dc.display_name.en == "Iran National Data Centre"
    assert dc.display_name.fa == "مرکز داده ملی ایران"
    assert [c.name for c in dc.storage_classes] == ["nvme-replicated", "ssd-standard", "hdd-archive"]
    assert dc.pool_names == ("thr-ab", "thr-pd", "isf-1", "mhd-1")
    thr_ab = dc.pool("thr-ab")
    assert (thr_ab.site, thr_ab.context) == ("Tehran, Shahid Beheshti campus", "ndc-thr-ab")
    assert thr_ab.capacity == {
        "cpu": Decimal(16000), "memory": Decimal(80 * Ti), "nvidia.com/gpu": Decimal(48),
        "storage/nvme-replicated": Decimal(600 * Ti), "storage/ssd-standard": Decimal(1500 * Ti),
        "storage/hdd-archive": Decimal(2 * Pi), "bandwidth/egress": bps("1.6Tbps"),
        "bandwidth/ingress": bps("800Gbps"),
    }
    assert dc.pool("isf-1").resources == (
        "cpu", "memory", "storage/hdd-archive", "storage/ssd-standard", "bandwidth/egress", "bandwidth/ingress")
    assert not dc.pool("isf-1").has("nvidia.com/gpu")


def test_percent_reserve_is_resolved_against_capacity_and_rounded_up(qcopy: QuotasCopy) -> None:
    pool = qcopy.load().datacentre.pool("thr-ab")
    assert pool.reserve["cpu"] == Decimal(800)  # 5% of 16000
    assert pool.reserve["memory"] == Decimal(4 * Ti)  # 5% of 80Ti
    assert pool.reserve["storage/nvme-replicated"] == Decimal(60 * Ti)  # 10% of 600Ti ("storage: 10%")
    # 10% of 2Pi is 225179981368524.8 bytes: rounded up to the next whole byte.
    assert pool.reserve["storage/hdd-archive"] == Decimal(225179981368525)
    assert pool.reserve["bandwidth/egress"] == bps("160Gbps")  # 10% of capacity, not of capacity × 1.2
    assert "nvidia.com/gpu" not in pool.reserve  # no default GPU reserve


def test_percent_reserve_of_millicores_rounds_up_to_a_millicore(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, '        cpu: "4000"\n', '        cpu: "4001"\n')  # isf-1
    qcopy.edit(DC, "    cpu: 5%\n", "    cpu: 3.33%\n")
    pool = qcopy.load().datacentre.pool("isf-1")
    assert pool.reserve["cpu"] == Decimal("133.234")  # 4001 × 0.0333 = 133.2333 → 133.234


def test_pool_reserve_overrides_default_per_resource(qcopy: QuotasCopy) -> None:
    pool = qcopy.load().datacentre.pool("thr-pd")
    assert pool.reserve["cpu"] == Decimal(256)
    assert pool.reserve["memory"] == Decimal(2 * Ti)
    assert pool.reserve["nvidia.com/gpu"] == Decimal(16)
    assert pool.reserve["storage/ssd-standard"] == Decimal(80 * Ti)  # the data-centre default, 10%
    assert pool.reserve["bandwidth/ingress"] == bps("40Gbps")


def test_overcommit_defaults_and_overrides(qcopy: QuotasCopy) -> None:
    dc = qcopy.load().datacentre
    assert dc.pool("thr-ab").overcommit == {"cpu": Decimal(2), "bandwidth/egress": Decimal("1.2"),
                                            "bandwidth/ingress": Decimal("1.2")}
    assert dc.pool("isf-1").overcommit["bandwidth/egress"] == Decimal(1)
    assert dc.pool("isf-1").overcommit["cpu"] == Decimal(2)


@pytest.mark.parametrize(("pool", "key", "expected"), [
    ("thr-ab", "cpu", Decimal(31200)),
    ("thr-ab", "memory", Decimal(76 * Ti)),
    ("thr-ab", "storage/hdd-archive", Decimal(2 * Pi) - Decimal(225179981368525)),
    ("thr-ab", "bandwidth/egress", bps("1760Gbps")),
    ("thr-ab", "bandwidth/ingress", bps("880Gbps")),
    ("thr-pd", "cpu", Decimal(12032)),
    ("thr-pd", "nvidia.com/gpu", Decimal(368)),
    ("isf-1", "memory", Decimal(16 * Ti) - Decimal(879609302221)),  # 5% of 16Ti rounded up
    ("isf-1", "bandwidth/egress", bps("180Gbps")),
    ("isf-1", "nvidia.com/gpu", Decimal(0)),
    ("mhd-1", "bandwidth/ingress", bps("220Gbps")),
])
def test_allocatable_matches_the_readme(qcopy: QuotasCopy, pool: str, key: str, expected: Decimal) -> None:
    assert qcopy.load().datacentre.pool(pool).allocatable(key) == expected


@pytest.mark.parametrize("resource", ["memory", "nvidia.com/gpu"])
def test_overcommit_above_one_refused_for_memory_and_gpu(qcopy: QuotasCopy, resource: str) -> None:
    qcopy.edit(DC, '    cpu: "2"\n', f'    cpu: "2"\n    {resource}: "1.5"\n')
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(DC)
    assert problem.line == qcopy.line(DC, f'    {resource}: "1.5"')
    assert problem.field == f"spec.overcommit.{resource}"
    assert problem.message == f"{resource} may not be overcommitted (ratio 1.5)"
    assert problem.hint == "only cpu and bandwidth may exceed 1; remove this line or write 1"


def test_overcommit_of_storage_refused_in_a_pool(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, '          ingress: "1"\n', '          ingress: "1"\n        storage: 2\n')
    problem = qcopy.only_problem()
    assert problem.line == qcopy.line(DC, "        storage: 2")
    assert problem.field == "spec.pools[2].overcommit.storage"
    assert problem.message == "storage may not be overcommitted (ratio 2)"


def test_overcommit_of_one_for_memory_is_fine(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, '    cpu: "2"\n', '    cpu: "2"\n    memory: 1\n')
    assert qcopy.load().datacentre.pool("thr-ab").overcommit["memory"] == Decimal(1)


def test_overcommit_below_one_refused(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, '    cpu: "2"\n', '    cpu: "0.5"\n')
    problem = qcopy.only_problem()
    assert (problem.line, problem.field) == (qcopy.line(DC, '    cpu: "0.5"'), "spec.overcommit.cpu")
    assert problem.message == "must be at least 1, got 0.5"


def test_reserve_above_capacity(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "        nvidia.com/gpu: 16\n", "        nvidia.com/gpu: 400\n")
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(DC)
    assert problem.line == qcopy.line(DC, "      reserve:")
    assert problem.field == "spec.pools[1].reserve"
    assert problem.message == "reserve of nvidia.com/gpu (400) exceeds the capacity (384)"
    assert problem.hint == "lower the reserve"


def test_reserve_may_use_the_overcommitted_capacity(qcopy: QuotasCopy) -> None:
    # 6144 cores × 2 = 12288: a reserve of 7000 cores is above capacity but not above capacity × overcommit.
    qcopy.edit(DC, '        cpu: "256"\n', '        cpu: "7000"\n')
    assert qcopy.load().datacentre.pool("thr-pd").allocatable("cpu") == Decimal(12288 - 7000)


def test_reserve_of_a_resource_the_pool_lacks(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "        nvidia.com/gpu: 16\n", "        nvidia.com/gpu: 16\n        storage: {hdd-archive: 1Ti}\n")
    problem = qcopy.only_problem()
    assert (problem.line, problem.field) == (qcopy.line(DC, "      reserve:"), "spec.pools[1].reserve")
    assert problem.message == "storage/hdd-archive is not in this pool's capacity"


@pytest.mark.parametrize(("value", "message"), [
    ("500%", 'invalid percentage "500%": it is over 100%; write a percentage from "0%" to "100%", such as "5%"'),
    ("-5%", 'invalid percentage "-5%": negative values are not allowed'),
])
def test_bad_percent_reserve(qcopy: QuotasCopy, value: str, message: str) -> None:
    qcopy.edit(DC, "    cpu: 5%\n", f"    cpu: {value}\n")
    problem = qcopy.only_problem()
    assert (problem.line, problem.field, problem.message) == (
        qcopy.line(DC, f"    cpu: {value}"), "spec.reserve.cpu", message)


def test_unknown_storage_class_in_capacity_with_suggestion(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "          hdd-archive: 8Pi\n", "          hdd-archve: 8Pi\n")
    problem = qcopy.only_problem()
    assert (problem.file, problem.line) == (qcopy.file(DC), qcopy.line(DC, "          hdd-archve: 8Pi"))
    assert problem.field == "spec.pools[2].capacity.storage.hdd-archve"
    assert problem.message == 'unknown storage class "hdd-archve"'
    assert problem.hint == 'did you mean "hdd-archive"?'


def test_unknown_storage_class_without_close_match_lists_classes(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "          hdd-archive: 8Pi\n", "          tape: 8Pi\n")
    problem = qcopy.only_problem()
    assert problem.hint == "declared classes: hdd-archive, nvme-replicated, ssd-standard"


def test_invalid_quantity_in_capacity_suggests_spelling(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "        memory: 16Ti\n", "        memory: 16TB\n")
    problem = qcopy.only_problem()
    assert (problem.line, problem.field) == (qcopy.line(DC, "        memory: 16TB"), "spec.pools[2].capacity.memory")
    assert problem.message == ('invalid quantity "16TB": "TB" is not a Kubernetes unit; write "16T" '
                               '(16×10^12 bytes, decimal) or "16Ti" (16×2^40 bytes, binary)')


def test_bandwidth_in_bytes_suggests_bits(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "          ingress: 800Gbps\n", "          ingress: 100GB/s\n")
    problem = qcopy.only_problem()
    assert problem.field == "spec.pools[0].capacity.bandwidth.ingress"
    assert problem.message == ('invalid bandwidth "100GB/s": "GB/s" is bytes; bandwidth is in bits per second; '
                               'write "800Gbps"')


def test_duplicate_pool_name(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "    - name: mhd-1\n", "    - name: isf-1\n")
    problems = qcopy.problems()
    dup = [p for p in problems if p.file == qcopy.file(DC)]
    assert len(dup) == 1
    assert dup[0].field == "spec.pools[3].name"
    assert dup[0].line == qcopy.line(DC, "      context: ndc-mhd-1") - 2
    assert dup[0].message == 'duplicate pool "isf-1"'
    assert dup[0].hint == "it is already declared as pools[2]"


def test_pool_name_not_dns_label(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "    - name: mhd-1\n", "    - name: MHD_1\n")
    problems = [p for p in qcopy.problems() if p.file == qcopy.file(DC)]
    assert len(problems) == 1
    assert problems[0].field == "spec.pools[3].name"
    assert problems[0].message.startswith('"MHD_1" is not a DNS-1123 label')
    assert problems[0].hint == 'for example "mhd-1"'


def test_missing_pool_context_and_unknown_pool_field(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "      context: ndc-isf-1\n", "      contxt: ndc-isf-1\n")
    problems = [p for p in qcopy.problems() if p.file == qcopy.file(DC)]
    assert [(p.line, p.field, p.message, p.hint) for p in problems] == [
        (qcopy.line(DC, "      contxt: ndc-isf-1"), "spec.pools[2].contxt", 'unknown field "contxt"',
         'did you mean "context"?'),
        (qcopy.line(DC, "      contxt: ndc-isf-1") - 2, "spec.pools[2]", 'missing required field "context"', None),
    ]


def test_capacity_storage_must_be_per_class(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "          hdd-archive: 8Pi\n", "          hdd-archive: 8Pi\n        nvidia.com/gpu: [8]\n")
    problem = qcopy.only_problem()
    assert problem.field == "spec.pools[2].capacity.nvidia.com/gpu"
    assert problem.message == "expected a quantity, got [8]"


def test_fractional_gpu_capacity(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "        nvidia.com/gpu: 384\n", "        nvidia.com/gpu: 383.5\n")
    problem = qcopy.only_problem()
    assert problem.field == "spec.pools[1].capacity.nvidia.com/gpu"
    assert problem.message == 'invalid GPU count "383.5": GPUs are whole devices; write 383 or 384'


def test_duplicate_storage_class(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "    - name: hdd-archive\n", "    - name: ssd-standard\n")
    problems = qcopy.problems()
    first = problems[0]
    assert first.file == qcopy.file(DC)
    assert first.field == "spec.storageClasses[2].name"
    names = [i for i, ln in enumerate(qcopy.read(DC).splitlines(), 1) if ln == "    - name: ssd-standard"]
    assert first.line == names[1]
    assert first.message == 'duplicate storage class "ssd-standard"'


def test_missing_datacentre_file(qcopy: QuotasCopy) -> None:
    qcopy.path(DC).unlink()
    problems = qcopy.problems()
    assert problems[0].file == qcopy.file(DC)
    assert problems[0].line is None
    assert problems[0].message == "file not found"
    assert problems[0].hint == "every quotas directory needs datacentre.yaml"
    # Without a data centre the tenants cannot be checked against pools, but nothing crashes and the
    # missing file is the only problem.
    assert len(problems) == 1


def test_wrong_kind_in_datacentre_file(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "kind: DataCentre\n", "kind: Policy\n")
    problems = qcopy.problems()
    assert (problems[0].file, problems[0].line, problems[0].field) == (
        qcopy.file(DC), qcopy.line(DC, "kind: Policy"), "kind")
    assert problems[0].message == "expected kind DataCentre in this file, got 'Policy'"
    assert problems[0].hint == "write kind: DataCentre, or move the document to the right file"
    assert len(problems) == 1


def test_wrong_api_version(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "apiVersion: dctenant.io/v1alpha1\n", "apiVersion: dctenant.io/v1\n")
    problem = qcopy.only_problem()
    assert (problem.line, problem.field) == (qcopy.line(DC, "apiVersion: dctenant.io/v1"), "apiVersion")
    assert problem.message == "unsupported apiVersion 'dctenant.io/v1'"
    assert problem.hint == "write dctenant.io/v1alpha1"


def test_prometheus_defaults_cluster_label_and_cadvisor_egress(qcopy: QuotasCopy) -> None:
    dc = qcopy.load().datacentre
    assert (dc.metrics.cluster_label, dc.metrics.egress) == ("cluster", "")
    assert dc.pool("thr-ab").cluster_value == "thr-ab"


def test_prometheus_cluster_label_per_pool_and_external_egress(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "  pools:\n", '  prometheus:\n    clusterLabel: site\n'
                                 '    egress: \'hubble_flows_bytes_total{destination="world"}\'\n  pools:\n')
    qcopy.edit(DC, "      context: ndc-thr-ab\n", "      context: ndc-thr-ab\n      cluster: tehran-ab\n")
    dc = qcopy.load().datacentre
    assert dc.metrics == pools.Metrics(cluster_label="site", egress='hubble_flows_bytes_total{destination="world"}')
    assert (dc.pool("thr-ab").cluster_value, dc.pool("thr-pd").cluster_value) == ("tehran-ab", "thr-pd")


def test_prometheus_fields_are_checked(qcopy: QuotasCopy) -> None:
    qcopy.edit(DC, "  pools:\n", "  prometheus:\n    clusterLabel: my-cluster\n    egress: 'rate(x[5m])'\n  pools:\n")
    problems = [(p.field, p.message) for p in qcopy.problems() if p.file == qcopy.file(DC)]
    assert problems == [("spec.prometheus.clusterLabel", "'my-cluster' is not a Prometheus label name"),
                        ("spec.prometheus.egress", "'rate(x[5m])' is not a PromQL selector (metric{matchers})")]
