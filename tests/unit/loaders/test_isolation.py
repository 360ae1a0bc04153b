"""Isolation in quotas/: tier fields, tenant overrides and domains, cross-tenant checks, each with its error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dctenant.domain import policies
from tests.conftest import QuotasCopy
from tests.unit.loaders.test_tenants import expect

POLICY = "policy.yaml"
BALE = "tenants/bale.yaml"
NATIONAL_OBJECTS = ("        objects: {pods: 5000, services: 200, loadBalancers: 4, nodePorts: 0, secrets: 1000, "
                    "configMaps: 1000,\n")


def test_shipped_tiers(qcopy: QuotasCopy) -> None:
    model = qcopy.load()
    national = model.policy.tiers["national"].isolation
    assert national == policies.Isolation(
        pod_security="restricted",
        objects=policies.ObjectCounts(pods=5000, services=200, load_balancers=4, node_ports=0, secrets=1000,
                                      config_maps=1000, persistent_volume_claims=500),
        ephemeral_storage=Decimal(500 * 2**30), service_types=("LoadBalancer",),
        ingress_classes=("nginx-public", "nginx-internal"), gateway_classes=("ndc-public",),
        priority_classes=("tenant-critical", "tenant-normal"), runtime_classes=("gvisor",),
        node_selector={"node.ndc.ir/role": "tenant"}, tolerations=(), registries=())
    startup = model.policy.tiers["startup"].isolation
    assert startup.registries == ("registry.ndc.ir/",) and startup.service_types == ()
    # Unset counts keep their defaults: nodePorts and loadBalancers 0.
    assert startup.objects.load_balancers == 0 and startup.objects.node_ports == 0
    assert model.policy.kubernetes.pod_security_version == "v1.30"
    assert model.policy.kubernetes.min_per_container == {"cpu": Decimal("0.01"), "memory": Decimal(16 * 2**20)}
    # Tenant overrides: igap (standard) gets baseline, wispi (startup) a second registry; the rest as their tier.
    assert model.tenant("igap").isolation_under(model.policy).pod_security == "baseline"
    assert model.tenant("igap").isolation_under(model.policy).ingress_classes == ("nginx-public",)
    assert model.tenant("wispi").isolation_under(model.policy).registries == ("registry.ndc.ir/", "harbor.wispi.ir/")
    assert model.tenant("bale").isolation is None and model.tenant("bale").domains == ("bale.ir", "ble.ir")


def test_a_tier_without_isolation_takes_the_defaults(qcopy: QuotasCopy) -> None:
    text = qcopy.read(POLICY)
    start = text.index("      isolation:\n", text.index("    startup:"))
    end = text.index("\n  licences:")
    qcopy.write(POLICY, text[:start] + text[end:])
    assert qcopy.load().policy.tiers["startup"].isolation == policies.Isolation()
    assert policies.Isolation().pod_security == "restricted" and policies.Isolation().service_types == ()


def test_privileged_is_refused(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "        podSecurity: restricted\n", "        podSecurity: privileged\n")
    expect(qcopy.only_problem(), qcopy, POLICY, "        podSecurity: privileged",
           "spec.tiers.national.isolation.podSecurity",
           'the Pod Security level "privileged" is not allowed for tenants: it lets a pod take over its node (host '
           "namespaces, host paths, privileged containers)",
           'use "baseline" for workloads that cannot meet "restricted"')


def test_a_tenant_cannot_override_to_privileged(qcopy: QuotasCopy) -> None:
    qcopy.edit("tenants/igap.yaml", "    podSecurity: baseline\n", "    podSecurity: privileged\n")
    problem = qcopy.only_problem()
    assert problem.field == "spec.isolation.podSecurity" and "privileged" in problem.message


def test_an_unknown_level_is_refused(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "        podSecurity: restricted\n", "        podSecurity: restrictive\n")
    expect(qcopy.only_problem(), qcopy, POLICY, "        podSecurity: restrictive",
           "spec.tiers.national.isolation.podSecurity", '"restrictive" is not allowed', 'did you mean "restricted"?')


def test_load_balancers_need_the_service_type(qcopy: QuotasCopy) -> None:
    text = qcopy.read(POLICY)
    start = text.index("    standard:")
    qcopy.write(POLICY, text[:start] + text[start:].replace("        serviceTypes: [LoadBalancer]\n", "", 1))
    problem = qcopy.only_problem()
    assert problem.field == "spec.tiers.standard.isolation.objects.loadBalancers"
    assert problem.message == "loadBalancers is 2 but serviceTypes does not allow LoadBalancer"
    assert problem.hint == "add LoadBalancer to serviceTypes, or set loadBalancers: 0"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("tolerations", "[nvidia.com/gpu]", '"nvidia.com/gpu" is granted by the allocation, not listed: tenants with a '
                                        "GPU envelope in a pool may tolerate it there"),
    ("tolerations", '["bad key!"]', '"bad key!" is not a taint key'),
    ("registries", "[docker]", '"docker" is not a registry (a host name with a dot, optionally a port and a path)'),
    ("serviceTypes", "[HostNetwork]", '"HostNetwork" is not allowed'),
    ("ingressClasses", "[Nginx_Public]", '"Nginx_Public" is not a DNS-1123 subdomain (lower-case letters, digits and '
                                         "'-', at most 253 characters)"),
    ("ephemeralStorage", "0", "must be above 0"),
    ("nodeSelector", '{"node.ndc.ir/role": "a b"}', "'a b' is not a label value"),
])
def test_bad_isolation_fields(qcopy: QuotasCopy, field: str, value: str, message: str) -> None:
    block = ("        ingressClasses: [nginx-public]\n        runtimeClasses: [gvisor]\n"
             "        nodeSelector: {node.ndc.ir/role: tenant}\n"
             "        registries: [registry.ndc.ir]   # startups pull only from the data centre's scanned registry\n")
    if field == "ephemeralStorage":
        qcopy.edit(POLICY, "        ephemeralStorage: 50Gi\n", f"        ephemeralStorage: {value}\n")
    else:
        qcopy.edit(POLICY, block, f"        {field}: {value}\n")
    problem = qcopy.only_problem()
    assert problem.field.startswith(f"spec.tiers.startup.isolation.{field}"), problem
    assert problem.message == message


def test_a_duplicate_list_item_is_refused(qcopy: QuotasCopy) -> None:
    qcopy.edit(POLICY, "        ephemeralStorage: 50Gi\n",
               "        ephemeralStorage: 50Gi\n        gatewayClasses: [a, a]\n")
    problem = qcopy.only_problem()
    assert (problem.field, problem.message) == ("spec.tiers.startup.isolation.gatewayClasses[1]",
                                                '"a" is listed twice')


@pytest.mark.parametrize("moved", ["persistentVolumeClaims: 200", "loadBalancers: 2", "nodePorts: 0"])
def test_counts_moved_to_the_tiers_are_reported_with_their_new_place(qcopy: QuotasCopy, moved: str) -> None:
    qcopy.edit(POLICY, "    monitoringNamespace: monitoring\n", f"    monitoringNamespace: monitoring\n    {moved}\n")
    name = moved.split(":", maxsplit=1)[0]
    expect(qcopy.only_problem(), qcopy, POLICY, f"    {moved}", f"spec.kubernetes.{name}",
           f"{name} is now set per tier", f"move it to spec.tiers.<tier>.isolation.objects.{name}")


@pytest.mark.parametrize("version", ["latest", "1.30", "v2.0"])
def test_pod_security_version_must_be_pinned(qcopy: QuotasCopy, version: str) -> None:
    qcopy.edit(POLICY, "    podSecurityVersion: v1.30 ", f"    podSecurityVersion: \"{version}\" ")
    problem = qcopy.only_problem()
    assert problem.field == "spec.kubernetes.podSecurityVersion"
    assert problem.message == f'"{version}" is not a pinned Kubernetes minor release'


@pytest.mark.parametrize(("image", "ok"), [
    ("ghcr.io/dctenant/dctenant@sha256:" + "a" * 64, True),
    ("ghcr.io/dctenant/dctenant:0.1.0@sha256:" + "0123456789abcdef" * 4, True),
    ("ghcr.io/dctenant/dctenant@sha256:" + "a" * 63, False),
    ("ghcr.io/dctenant/dctenant@md5:abc", False),
])
def test_the_enforcer_image_may_be_pinned_by_digest(qcopy: QuotasCopy, image: str, ok: bool) -> None:
    qcopy.edit(POLICY, "      image: ghcr.io/dctenant/dctenant:0.1.0\n", f"      image: \"{image}\"\n")
    if ok:
        assert qcopy.load().policy.kubernetes.enforcer.image == image
    else:
        problem = qcopy.only_problem()
        assert problem.field == "spec.kubernetes.enforcer.image"
        assert problem.message == f'"{image}" has a malformed digest'


def test_a_domain_declared_by_two_tenants(qcopy: QuotasCopy) -> None:
    qcopy.edit("tenants/eitaa.yaml", "  domains: [eitaa.com, eitaa.ir]", "  domains: [eitaa.com, bale.ir]")
    problem = qcopy.only_problem()
    # bale is read first, so eitaa's declaration is the one reported.
    expect(problem, qcopy, "tenants/eitaa.yaml", "  domains: [eitaa.com, bale.ir]   # Ingress and route hostnames "
           "must be these or their subdomains", "spec.domains[1]", 'domain "bale.ir" also declared by tenant "bale"',
           "a domain and its subdomains belong to one tenant; remove it from one")


def test_a_subdomain_of_another_tenants_domain(qcopy: QuotasCopy) -> None:
    qcopy.edit("tenants/eitaa.yaml", "  domains: [eitaa.com, eitaa.ir]", "  domains: [eitaa.com, pay.ble.ir]")
    problem = qcopy.only_problem()
    assert problem.message == 'domain "pay.ble.ir" overlaps "ble.ir", declared by tenant "bale"'
    # A look-alike that only ends with the same letters is not a subdomain.
    qcopy.edit("tenants/eitaa.yaml", "pay.ble.ir", "eble.ir")
    assert qcopy.load().tenant("eitaa").domains == ("eitaa.com", "eble.ir")


@pytest.mark.parametrize(("domain", "message"), [
    ("*.bale.ir", '"*.bale.ir" is a wildcard; a domain already covers its subdomains'),
    ("localhost", '"localhost" is not a DNS domain (lower-case labels separated by dots)'),
    ("Bale.IR", '"Bale.IR" is not a DNS domain (lower-case labels separated by dots)'),
])
def test_bad_domains(qcopy: QuotasCopy, domain: str, message: str) -> None:
    qcopy.edit(BALE, "  domains: [bale.ir, ble.ir]", f'  domains: [bale.ir, "{domain}"]')
    problem = qcopy.only_problem()
    assert (problem.field, problem.message) == ("spec.domains[1]", message)


def test_a_tenant_id_that_extends_another_is_refused(qcopy: QuotasCopy) -> None:
    """With tenants bale and bale-x, "bale-x-web" would carry both prefixes (the self-service 409 of issue 14)."""
    text = qcopy.read("tenants/navak.yaml").replace("name: navak\n", "name: bale-x\n").replace("navak-", "bale-x-")
    qcopy.write("tenants/bale-x.yaml", text.replace("navak.ir", "bale-x.example.ir"))
    (problem,) = [p for p in qcopy.problems() if p.file == qcopy.file("tenants/bale-x.yaml")]
    assert problem.field == "metadata.name"
    assert problem.message == ('tenant id "bale-x" starts with tenant "bale" and "-", so a namespace such as '
                               '"bale-x-web" would carry both prefixes')
    assert problem.hint == 'choose an id that does not start with "bale-"'


def test_a_tenant_id_that_only_shares_letters_is_fine(qcopy: QuotasCopy) -> None:
    text = qcopy.read("tenants/navak.yaml").replace("name: navak\n", "name: balex\n").replace("navak-", "balex-")
    qcopy.write("tenants/balex.yaml", text.replace("navak.ir", "balex.ir"))
    assert {"bale", "balex"} <= {t.id for t in qcopy.load().tenants}
