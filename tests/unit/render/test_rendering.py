"""``dctenant render --out DIR``: the files it writes, its refusal of foreign directories, its summary."""

from __future__ import annotations

import json
import pathlib

import yaml
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.ops import rendering
from tests.conftest import EXAMPLE, QuotasCopy

AT = "2026-11-27"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def tree(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_writes_one_file_per_namespace_and_a_cluster_file(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = invoke("render", str(EXAMPLE), "--at", AT, "--out", str(out))
    assert code == 0 and stdout == ""
    files = tree(out)
    assert rendering.MARKER in files
    assert {f.split("/")[0] for f in files if "/" in f} == {"thr-ab", "thr-pd", "isf-1", "mhd-1"}
    assert "thr-ab/_cluster.yaml" in files and "thr-ab/bale-messaging.yaml" in files
    assert len([f for f in files if f.endswith(".yaml") and not f.split("/")[-1].startswith("_")]) == 26
    assert "thr-ab/_prometheus-rules.yaml" in files and "thr-ab/_prometheusrule.yaml" in files
    assert "thr-ab/_grafana-dashboards.yaml" in files
    enforcer_docs = list(yaml.safe_load_all(files["thr-ab/_enforcer.yaml"]))
    assert [d["kind"] for d in enforcer_docs][-1] == "CronJob"
    docs = list(yaml.safe_load_all(files["thr-ab/bale-messaging.yaml"]))
    assert [d["kind"] for d in docs] == ["Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "ConfigMap",
                                         "NetworkPolicy", "RoleBinding", "RoleBinding"]
    cluster = list(yaml.safe_load_all(files["isf-1/_cluster.yaml"]))
    assert [d["metadata"]["name"] for d in cluster][:2] == ["dctenant-system", "dctenant:tenant-admin"]
    # The summary: objects per pool and in total (114 + 3 × 66, each with a PrometheusRule, 3 dashboard
    # ConfigMaps and the enforcer's 6 objects; see test_render_json_summary).
    assert "thr-ab" in stderr and "312" in stderr
    assert "warning: tenant bale" in stderr


def test_render_is_byte_identical_and_replaces_its_own_output(tmp_path: pathlib.Path, qcopy: QuotasCopy) -> None:
    out = tmp_path / "out"
    assert invoke("render", str(EXAMPLE), "--at", AT, "--out", str(out))[0] == 0
    first = tree(out)
    assert invoke("render", str(EXAMPLE), "--at", AT, "--out", str(out))[0] == 0
    assert tree(out) == first
    # A namespace no longer declared loses its file; files dctenant did not write are left alone.
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    qcopy.edit("tenants/navak.yaml", "    - name: navak-messaging\n", "    - name: navak-chat\n")
    code, stdout, _ = invoke("render", str(qcopy.root), "--at", AT, "--out", str(out), "-o", "json")
    assert code == 0
    assert json.loads(stdout)["removed"] == ["isf-1/navak-messaging.yaml"]
    after = tree(out)
    assert "isf-1/navak-messaging.yaml" not in after and "isf-1/navak-chat.yaml" in after
    assert after["notes.txt"] == b"mine"


def test_render_refuses_a_foreign_directory_unless_forced(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("important", encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(EXAMPLE), "--at", AT, "--out", str(out)])
    assert result.exit_code == 1
    assert "not empty and was not written by dctenant render" in str(result.exception)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert invoke("render", str(EXAMPLE), "--at", AT, "--out", str(out), "--force")[0] == 0
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "important"
    assert (out / "mhd-1" / "_cluster.yaml").is_file()


def test_a_tampered_marker_cannot_delete_outside_the_directory(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    victim = tmp_path / "victim.yaml"
    victim.write_text("keep", encoding="utf-8")
    out.mkdir()
    (out / rendering.MARKER).write_text(f"../victim.yaml\n{victim}\n", encoding="utf-8")
    assert invoke("render", str(EXAMPLE), "--at", AT, "--out", str(out))[0] == 0
    assert victim.read_text(encoding="utf-8") == "keep"


def test_render_json_summary(tmp_path: pathlib.Path) -> None:
    code, stdout, _ = invoke("render", str(EXAMPLE), "--at", AT, "--out", str(tmp_path / "o"), "-o", "json")
    data = json.loads(stdout)
    assert code == 0 and data["kind"] == "RenderResult"
    # 16 cluster-wide objects, 8 per namespace (11 in thr-ab, 5 elsewhere), a PrometheusRule, 3 dashboards,
    # 6 enforcer objects: 16 + 88 + 10 = 114 and 16 + 40 + 10 = 66.
    assert {p: v["objects"] for p, v in data["pools"].items()} == {"thr-ab": 114, "thr-pd": 66, "isf-1": 66,
                                                                   "mhd-1": 66}
    assert data["pools"]["thr-ab"]["namespaces"] == 11
