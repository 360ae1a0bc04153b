"""quotas.load: the whole shipped example, and the directory-level rules."""

from __future__ import annotations

import datetime as dt
import pathlib
from decimal import Decimal

import pytest

from dctenant.domain import quotas as quota_model
from dctenant.domain import tenants
from dctenant.errors import UserError, ValidationError
from dctenant.loaders import loading
from tests.conftest import EXAMPLE, QuotasCopy

REFERENCE_DAY = dt.date(2026, 11, 27)


@pytest.fixture(scope="module")
def example() -> quota_model.Quotas:
    return loading.load(EXAMPLE)


def test_every_file_of_the_example_is_loaded(example: quota_model.Quotas) -> None:
    model = example
    files = sorted(p.stem for p in (EXAMPLE / "tenants").glob("*.yaml"))
    assert sorted(t.id for t in model.tenants) == files
    assert len(model.datacentre.pools) == 4
    assert len(model.tenants) >= 7
    assert len(model.datacentre.storage_classes) == 3


def test_every_tier_is_used(example: quota_model.Quotas) -> None:
    assert {t.tier for t in example.tenants} == set(example.policy.tiers)


def test_every_licence_state_occurs_on_the_reference_day(example: quota_model.Quotas) -> None:
    states = {t.licence.state(at=REFERENCE_DAY, rules=example.policy.licences) for t in example.tenants}
    assert states == set(tenants.LicenceState)


def test_demand_exceeds_allocatable_on_at_least_two_resources(example: quota_model.Quotas) -> None:
    short = []
    for pool in example.datacentre.pools:
        for key in pool.resources:
            demand = sum((t.demand.get(pool.name, {}).get(key, Decimal(0)) for t in example.tenants), Decimal(0))
            if demand > pool.allocatable(key):
                short.append((pool.name, key))
    assert len(short) >= 2, short
    assert len({key for _, key in short}) >= 2, short


def test_namespaces_are_unique_and_prefixed(example: quota_model.Quotas) -> None:
    names = [ns.name for t in example.tenants for ns in t.namespaces]
    assert len(names) == len(set(names))
    for tenant in example.tenants:
        for ns in tenant.namespaces:
            assert ns.name.startswith(tenant.id + "-")
            assert ns.pool in tenant.demand
            for key, value in tenant.namespace_total(ns.pool).items():
                assert value <= tenant.demand[ns.pool][key]


def test_path_may_be_a_string_or_a_path(qcopy: QuotasCopy) -> None:
    assert loading.load(str(qcopy.root)).datacentre.name == loading.load(qcopy.root).datacentre.name


def test_problem_files_are_named_under_the_path_given(qcopy: QuotasCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    qcopy.edit("tenants/gap.yaml", "  tier: ", "  tier: x")
    monkeypatch.chdir(qcopy.root.parent)
    with pytest.raises(ValidationError) as caught:
        loading.load("quotas")
    assert caught.value.problems[0].file == "quotas/tenants/gap.yaml"
    assert str(caught.value).startswith("quotas/tenants/gap.yaml:")


def test_not_a_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UserError) as caught:
        loading.load(tmp_path / "nowhere")
    assert not isinstance(caught.value, ValidationError)
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: {tmp_path / 'nowhere'} is not a directory"


def test_empty_directory_reports_both_required_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValidationError) as caught:
        loading.load(tmp_path)
    assert [(p.file, p.line, p.message) for p in caught.value.problems] == [
        (str(tmp_path / "datacentre.yaml"), None, "file not found"),
        (str(tmp_path / "policy.yaml"), None, "file not found"),
    ]
    assert caught.value.message == "2 problems found"


def test_no_tenants_directory_is_a_data_centre_without_tenants(qcopy: QuotasCopy) -> None:
    for path in qcopy.path("tenants").iterdir():
        path.unlink()
    qcopy.path("tenants").rmdir()
    assert qcopy.load().tenants == ()


def test_yml_extension_is_read(qcopy: QuotasCopy) -> None:
    qcopy.path("tenants/gap.yaml").rename(qcopy.path("tenants/gap.yml"))
    assert qcopy.load().tenant("gap").id == "gap"


def test_other_files_in_tenants_are_ignored(qcopy: QuotasCopy) -> None:
    qcopy.write("tenants/README.md", "# not yaml: [")
    qcopy.write("tenants/gap.yaml.orig", "not: [valid")
    assert len(qcopy.load().tenants) == len(list(EXAMPLE.glob("tenants/*.yaml")))


def test_validation_error_message_counts_problems(qcopy: QuotasCopy) -> None:
    qcopy.edit("tenants/gap.yaml", "  tier: ", "  tier: x")
    with pytest.raises(ValidationError) as caught:
        qcopy.load()
    assert caught.value.message == "1 problem found"
    assert str(caught.value) == str(caught.value.problems[0])
