"""A small data centre for the self-service tests: one pool, two tenants, ten namespaces' worth of room each.

Pool ``lab`` (kubeconfig context ``kmock-lab``); tenants ``bale`` and ``gap`` each ask for 12 CPUs,
12Gi and 100Gi of ``ssd-standard`` there and have a staff-declared namespace ``<id>-core`` of 2 CPUs
and 2Gi, so 10 CPUs and 10Gi remain for self-service: exactly ten namespaces of 1 CPU and 1Gi.
"""

from __future__ import annotations

import pathlib
import shutil

REPO = pathlib.Path(__file__).resolve().parents[1]

DATACENTRE = """\
apiVersion: dctenant.io/v1alpha1
kind: DataCentre
metadata:
  name: lab
  displayName: {en: "Lab", fa: "آزمایشگاه"}
spec:
  storageClasses:
    - name: ssd-standard
  pools:
    - name: lab
      site: "Test bench"
      context: kmock-lab
      capacity:
        cpu: "100"
        memory: 100Gi
        storage:
          ssd-standard: 1Ti
        bandwidth:
          egress: 10Gbps
          ingress: 10Gbps
"""

TENANT = """\
# {name}, a tenant under test.
apiVersion: dctenant.io/v1alpha1
kind: Tenant
metadata:
  name: {name}
spec:
  displayName: {{en: "{name}", fa: "{name}"}}
  tier: national
  licence: {{number: "CRA-{name}", issued: 2022-01-01, expires: 2099-01-01, status: active}}
  owners:
    groups: [{name}-admins]
  demand:
    lab:
      cpu: "12"
      memory: 12Gi
      storage:
        ssd-standard: 100Gi
  namespaces:
    - name: {name}-core
      pool: lab
      quota:
        cpu: "2"
        memory: 2Gi
"""


def write_quotas(root: pathlib.Path) -> pathlib.Path:
    (root / "tenants").mkdir(parents=True)
    shutil.copy(REPO / "quotas" / "policy.yaml", root / "policy.yaml")
    (root / "datacentre.yaml").write_text(DATACENTRE, encoding="utf-8")
    for name in ("bale", "gap"):
        (root / "tenants" / f"{name}.yaml").write_text(TENANT.format(name=name), encoding="utf-8")
    return root



