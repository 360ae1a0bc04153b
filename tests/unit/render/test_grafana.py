"""The generated dashboards: committed without drift, valid for the SDK's Grafana, deterministic.

``dashboards/`` is committed so that a pull request shows how a dashboard changes; regenerating
it from ``quotas/`` must give exactly the committed files. Validity is checked through the
Grafana Foundation SDK's own model classes (it targets Grafana 10.1, dashboard schema 36): a
dashboard decoded with ``Dashboard.from_json`` and encoded again must be the same JSON (the SDK
drops what its schema does not know), every panel type must be a registered panel plugin, every
query a Prometheus query, and every enum-typed value one the schema allows.
"""

from __future__ import annotations

import enum
import json
import pathlib
from typing import Any

import pytest
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.loaders import loading
from dctenant.ops import dashboarding
from dctenant.render import grafana

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return dashboarding.texts(loading.load(ROOT / "quotas"))


def test_committed_dashboards_match_the_generator(texts: dict[str, str]) -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "dashboards").glob("*.json")}
    assert sorted(committed) == sorted(texts), "run `dctenant dashboards` and commit dashboards/"
    for name, text in texts.items():
        assert committed[name] == text, f"dashboards/{name} drifted: run `dctenant dashboards` and commit it"


def test_generation_is_deterministic_with_sorted_keys(texts: dict[str, str]) -> None:
    again = dashboarding.texts(loading.load(ROOT / "quotas"))
    assert again == texts
    for text in texts.values():
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _walk(value: Any, path: str) -> list[str]:
    """Enum-typed attributes of the SDK's model objects whose value is not a member of the enum."""
    import typing

    from grafana_foundation_sdk.cog import variants

    bad: list[str] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            bad += _walk(item, f"{path}[{i}]")
        return bad
    if not hasattr(value, "to_json") or isinstance(value, enum.Enum):
        return bad
    hints: dict[str, Any] = {}
    for klass in type(value).__mro__:
        module = __import__(klass.__module__, fromlist=["_"])
        try:
            hints.update(typing.get_type_hints(klass.__init__, globalns=vars(module)))
        except (NameError, TypeError, AttributeError):
            continue
    for name, attr in vars(value).items():
        hint = hints.get(name)
        for option in typing.get_args(hint) or (hint,):
            if isinstance(option, type) and issubclass(option, enum.Enum) and attr is not None:
                try:
                    option(attr)
                except ValueError:
                    bad.append(f"{path}.{name}={attr!r} is not a {option.__name__}")
        if not isinstance(attr, variants.Dataquery | str | int | float | bool | dict) or isinstance(attr, list):
            bad += _walk(attr, f"{path}.{name}")
    return bad


def test_dashboards_are_valid_for_the_sdk_schema(texts: dict[str, str]) -> None:
    from grafana_foundation_sdk.cog import encoder, plugins, runtime
    from grafana_foundation_sdk.models import dashboard, prometheus

    plugins.register_default_plugins()
    for name, text in texts.items():
        data = json.loads(text)
        model = dashboard.Dashboard.from_json(data)
        again = json.loads(json.dumps(model, cls=encoder.JSONEncoder))
        assert again == data, f"{name}: fields the SDK's Grafana schema does not know"
        assert model.schema_version == 36 and model.uid == grafana.UIDS[name.removesuffix(".json")]
        assert _walk(model, name) == []
        for panel in model.panels or []:
            if isinstance(panel, dashboard.RowPanel):
                continue
            assert runtime.panelcfg_config(panel.type_val or "") is not None, f"{name}: panel type {panel.type_val}"
            assert panel.datasource is not None and panel.datasource.uid == "${datasource}"
            assert panel.targets, f"{name}: {panel.title} has no query"
            assert all(isinstance(t, prometheus.Dataquery) for t in panel.targets), panel.title
        variables = {v.name: v for v in model.templating.list_val or []}
        assert variables["datasource"].type_val == dashboard.VariableType.DATASOURCE
        assert variables["datasource"].query == "prometheus"


def test_ids_unique_and_every_panel_reads_recording_rules(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        board = json.loads(text)
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids) and 0 not in ids
        for title, expr in grafana.expressions(board):
            # The only raw series: Prometheus's own ALERTS and the dctenant quota as kube-state-metrics reports it.
            assert "dctenant:" in expr or "ALERTS{" in expr, f"{name} {title}: {expr}"


def test_tenant_dashboard_has_a_panel_per_resource_and_storage_class(texts: dict[str, str]) -> None:
    board = json.loads(texts["tenant.json"])
    titles = {p["title"] for p in board["panels"]}
    assert {"CPU", "Memory", "GPU", "Storage nvme-replicated", "Storage ssd-standard", "Storage hdd-archive",
            "Egress", "Ingress"} <= titles
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "pool", "tenant"]


def test_cli_writes_the_files_and_reports_changes(tmp_path: pathlib.Path, texts: dict[str, str]) -> None:
    out = tmp_path / "dashboards"
    runner = CliRunner()
    first = runner.invoke(cli, ["dashboards", str(ROOT / "quotas"), "--out", str(out), "-o", "json",
                                "--exit-code"])
    assert first.exit_code == 3, first.output
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == texts
    (out / "mine.json").write_text("{}\n", encoding="utf-8")
    second = runner.invoke(cli, ["dashboards", str(ROOT / "quotas"), "--out", str(out), "-o", "json",
                                 "--exit-code"])
    assert second.exit_code == 0, second.output
    result = json.loads(second.stdout)
    assert result["changed"] is False and result["foreign"] == ["mine.json"]
    assert [d["uid"] for d in result["dashboards"]] == ["dctenant-capacity", "dctenant-tenant", "dctenant-traffic"]


def test_config_maps_for_the_grafana_sidecar(texts: dict[str, str]) -> None:
    model = loading.load(ROOT / "quotas")
    maps = dashboarding.config_maps(model)
    assert [m["metadata"]["name"] for m in maps] == ["dctenant-dashboard-capacity", "dctenant-dashboard-tenant",
                                                     "dctenant-dashboard-traffic"]
    for m in maps:
        assert m["metadata"]["namespace"] == model.policy.kubernetes.monitoring_namespace
        assert m["metadata"]["labels"] == {"grafana_dashboard": "1", "app.kubernetes.io/managed-by": "dctenant"}
        ((name, text),) = m["data"].items()
        assert text == texts[name] and len(text.encode()) < 2**20
