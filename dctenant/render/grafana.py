"""Grafana dashboards for staff, tenants and auditors, built with the Grafana Foundation SDK.

People would rather look than read: the data centre's capacity, each tenant's use of its envelope
and the traffic between them must be visible at a glance. Three dashboards, each with a stable
``uid`` (links and bookmarks survive regeneration) and a ``datasource`` variable of type
prometheus (one pool's Prometheus, or a Thanos/Mimir in front of all of them):

* **capacity** (staff): per pool and resource, capacity, reserve, allocatable, allocated and used,
  the headroom, the allocation by tenant (stacked), licence expiry, and which tenants are warned,
  breaching (throttled by the enforcer) or suspended;
* **tenant** (a messenger's team; ``tenant`` variable): usage against the envelope per resource
  over time, per storage class and for egress and ingress, the per-namespace breakdown, and the
  enforcement state and its recent transitions;
* **traffic** (auditors and operators): egress and ingress per tenant over time, the period's
  totals and each tenant's share.

Every expression reads dctenant's recording rules (``render.prometheus_rules``, ``render.capacity_rules``)
rather than raw exporter metrics, so the dashboards, the alerts and the enforcer mean the same
thing by "usage". Two things have no rule: the alerts themselves (``ALERTS``) and the state of
the ``dctenant-quota`` ResourceQuota as kube-state-metrics reports it, which shows what the
enforcer did (a suspension sets ``pods: 0``); the caller passes that series' selector.

Only the data centre's shape is read from ``quotas/`` (its resources and storage classes, the
enforcement thresholds and licence warning days), never the allocation or a date: a dashboard
changes when the data centre does, not every day. The SDK is imported lazily. Pure and
deterministic: ``encode`` gives the same bytes for the same input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dctenant.domain import quotas, reclaim, resources
from dctenant.render import capacity_rules, prometheus_rules

if TYPE_CHECKING:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import prometheus as pb
    from grafana_foundation_sdk.models import dashboard as dm

Dashboard = dict[str, Any]
UIDS = {"capacity": "dctenant-capacity", "tenant": "dctenant-tenant", "traffic": "dctenant-traffic"}
TAGS = ["dctenant"]
WARNED = ("DctenantTenantNearEnvelope", "DctenantLicenceExpiring", "DctenantLicenceInGrace")
BREACHING = ("DctenantTenantOverEnvelope", "DctenantBandwidthOverEnvelope")
SUSPENDED = ("DctenantLicenceExpired", "DctenantLicenceSuspended")
UNMEASURED = ("DctenantEnforcementDataMissing", "DctenantNamespaceNotMeasured")
STATES = (("warned", WARNED), ("breaching", BREACHING), ("suspended", SUSPENDED), ("unmeasured", UNMEASURED))
RUNWAY_DAYS = 30  # how far ahead the runway panel projects the trend
_UNITS = {resources.Kind.CPU: "short", resources.Kind.MEMORY: "bytes", resources.Kind.GPU: "short",
          resources.Kind.STORAGE: "bytes", resources.Kind.BANDWIDTH: "bps"}


def dashboards(model: quotas.Quotas, *, quota_series: str) -> dict[str, Dashboard]:
    """The dashboards by file name (``<name>.json``), as Grafana JSON.

    ``quota_series`` selects kube-state-metrics' series of the dctenant ResourceQuota
    (``kube_resourcequota{job="kube-state-metrics",resourcequota="dctenant-quota"}``), the same
    selector the enforcer queries with.
    """
    keys = resources.ordered(k for p in model.datacentre.pools for k in p.capacity)
    built = {"capacity": _capacity(model, keys=keys, quota_series=quota_series),
             "tenant": _tenant(model, keys=keys, quota_series=quota_series),
             "traffic": _traffic(model)}
    return {f"{name}.json": _json(board) for name, board in built.items()}


def encode(board: Dashboard) -> str:
    """The file's text: sorted keys, two-space indent, UTF-8 as is, a trailing newline."""
    return json.dumps(board, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def expressions(board: Dashboard) -> list[tuple[str, str]]:
    """Every (panel title, PromQL) of a dashboard, variables' queries included (for tests and docs)."""
    found = [(f"variable {v['name']}", str(v["query"])) for v in board.get("templating", {}).get("list", [])
             if v.get("type") == "query"]
    for panel in board.get("panels", []):
        found += [(str(panel.get("title", "")), str(t["expr"])) for t in panel.get("targets", []) if "expr" in t]
    return found


# The builders ----------------------------------------------------------------------------------


def _last() -> Any:
    """Reduce a series to its last value, as Grafana's own panels default to (the SDK leaves it empty)."""
    from grafana_foundation_sdk.builders import common as cb

    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _described(panel: Any, description: str) -> Any:
    return panel.description(description) if description else panel


def _ds() -> dm.DataSourceRef:
    from grafana_foundation_sdk.models import dashboard as dm

    return dm.DataSourceRef(type_val="prometheus", uid="${datasource}")


def _board(title: str, *, uid: str, description: str, variables: Sequence[str]) -> db.Dashboard:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.models import dashboard as dm

    board = (db.Dashboard(title).uid(uid).description(description).tags(TAGS).time("now-6h", "now")
             .refresh("1m").timezone("browser").readonly().tooltip(dm.DashboardCursorSync.CROSSHAIR)
             .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus")))
    for name in variables:
        board.with_variable(_variable(name))
    return board


def _variable(name: str) -> db.QueryVariable:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.models import dashboard as dm

    if name == "pool":
        # "All" matches every pool of a Prometheus that serves several (Thanos, Mimir).
        return (db.QueryVariable("pool").label("Pool").datasource(_ds()).include_all(True).all_value(".+")
                .query(f"label_values({prometheus_rules.INFO}, pool)").refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(dm.VariableSort.ALPHABETICAL_ASC))
    return (db.QueryVariable("tenant").label("Tenant").datasource(_ds())
            .query(f'label_values({prometheus_rules.INFO}{{pool=~"$pool"}}, tenant)')
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC))


def _q(expr: str, legend: str = "", *, ref: str = "A", table: bool = False, instant: bool = False) -> pb.Dataquery:
    from grafana_foundation_sdk.builders import prometheus as pb
    from grafana_foundation_sdk.models import prometheus as pm

    query = pb.Dataquery().expr(expr).ref_id(ref)
    if table:
        return query.instant().format(pm.PromQueryFormat.TABLE)
    return (query.instant() if instant else query.range()).legend_format(legend or "__auto")


def _series(title: str, *targets: pb.Dataquery, unit: str, description: str = "", stacked: bool = False,
            width: int = 12, height: int = 8, dashed: str = "") -> Any:
    """A time series panel; ``dashed`` is a regular expression of series drawn as dashed lines (limits)."""
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import timeseries as ts
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm

    panel = (ts.Panel().title(title).datasource(_ds()).unit(unit).span(width)
             .height(height).fill_opacity(30 if stacked else 10).line_width(1).min(0)
             .legend(cb.VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.TABLE)
                     .placement(cm.LegendPlacement.BOTTOM).calcs(["lastNotNull", "max"]))
             .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)))
    if stacked:
        panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if dashed:
        panel.override_by_regexp(dashed, [
            dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
            dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0)])
    for target in targets:
        panel.with_target(target)
    return _described(panel, description)


def _thresholds(*steps: tuple[float | None, str]) -> Any:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.models import dashboard as dm

    return (db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=value, color=color) for value, color in steps]))


def _envelope_steps(model: quotas.Quotas) -> Any:
    e = model.policy.enforcement
    return _thresholds((None, "green"), (float(e.warning_at), "orange"), (float(e.breach_at), "red"))


def _bars(title: str, target: pb.Dataquery, *, unit: str, thresholds: Any, description: str = "",
          width: int = 12, height: int = 8) -> Any:
    from grafana_foundation_sdk.builders import bargauge as bg
    from grafana_foundation_sdk.models import common as cm

    return _described(bg.Panel().title(title).datasource(_ds()).unit(unit).span(width)
            .height(height).min(0).thresholds(thresholds).with_target(target)
            .orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.GRADIENT)
            .show_unfilled(True).reduce_options(_last()), description)


def _table(title: str, *targets: pb.Dataquery, description: str = "", width: int = 24, height: int = 8,
           columns: Mapping[str, tuple[str, str]] | None = None, hidden: Sequence[str] = ("Time",)) -> Any:
    """An instant table joining its queries on their labels; ``columns`` renames and units ``Value #X``."""
    from grafana_foundation_sdk.builders import table as tb
    from grafana_foundation_sdk.models import dashboard as dm

    names = {f"Value #{ref}": name for ref, (name, _unit) in (columns or {}).items()}
    panel = (tb.Panel().title(title).datasource(_ds()).span(width).height(height)
             .show_header(True)
             .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {name: True for name in hidden}, "renameByName": names,
                 "indexByName": {}})))
    for name, unit in (columns or {}).values():
        if unit:
            panel.override_by_name(name, [dm.DynamicConfigValue(id_val="unit", value=unit)])
    for target in targets:
        panel.with_target(target)
    return _described(panel, description)


def _timeline(title: str, target: pb.Dataquery, *, description: str = "", thresholds: Any = None,
              mappings: Mapping[int, tuple[str, str]] | None = None, unit: str = "", width: int = 12,
              height: int = 8) -> Any:
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import statetimeline as st
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm

    panel = (st.Panel().title(title).datasource(_ds()).span(width).height(height)
             .show_value(cm.VisibilityMode.NEVER).merge_values(True).line_width(0).fill_opacity(70)
             .with_target(target)
             .legend(cb.VizLegendOptions()
                     .show_legend(True).display_mode(cm.LegendDisplayMode.LIST)
                     .placement(cm.LegendPlacement.BOTTOM)))
    if unit:
        panel.unit(unit)
    if thresholds is not None:
        panel.thresholds(thresholds).color_scheme(
            db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    if mappings:
        panel.mappings([dm.ValueMap(options={str(v): dm.ValueMappingResult(text=text, color=color, index=i)
                                             for i, (v, (text, color)) in enumerate(sorted(mappings.items()))})])
    return _described(panel, description)


def _stat(title: str, *targets: pb.Dataquery, unit: str, description: str = "", thresholds: Any = None,
          width: int = 6, height: int = 4, name_only: bool = False) -> Any:
    from grafana_foundation_sdk.builders import stat as sb
    from grafana_foundation_sdk.models import common as cm

    panel = (sb.Panel().title(title).datasource(_ds()).unit(unit).span(width)
             .height(height).graph_mode(cm.BigValueGraphMode.NONE)
             .text_mode(cm.BigValueTextMode.NAME if name_only else cm.BigValueTextMode.VALUE_AND_NAME)
             .reduce_options(_last()))
    if thresholds is not None:
        panel.thresholds(thresholds)
    for target in targets:
        panel.with_target(target)
    return _described(panel, description)


def _pie(title: str, target: pb.Dataquery, *, unit: str, description: str = "", width: int = 12,
         height: int = 8) -> Any:
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import piechart as pc
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import piechart as pm

    return _described(pc.Panel().title(title).datasource(_ds()).unit(unit).span(width)
            .height(height).pie_type(pm.PieChartType.DONUT).reduce_options(_last()).with_target(target)
            .hide_from(cb.HideSeriesConfig().legend(False).tooltip(False).viz(False))
            .legend(pc.PieChartLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.TABLE)
                    .placement(cm.LegendPlacement.RIGHT).values([pm.PieChartLegendValues.PERCENT]))
            .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE).sort(cm.SortOrder.NONE)),
                      description)


def _row(title: str) -> Any:
    from grafana_foundation_sdk.builders import dashboard as db

    return db.Row(title)


def _json(board: db.Dashboard) -> Dashboard:
    """Grafana JSON of a built dashboard, with panel ids numbered in order (the SDK leaves them 0)."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    data: Dashboard = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    return data


# Wording and PromQL shared by the dashboards ------------------------------------------------------


def _name(key: str) -> str:
    if key.startswith(resources.STORAGE_PREFIX):
        return f"Storage {key.removeprefix(resources.STORAGE_PREFIX)}"
    return {resources.CPU: "CPU", resources.MEMORY: "Memory", resources.GPU: "GPU", resources.EGRESS: "Egress",
            resources.INGRESS: "Ingress"}.get(key, key)


def _unit(key: str) -> str:
    return _UNITS[resources.kind(key)]


def _keys(model: quotas.Quotas) -> str:
    """What identifies a namespace on the endpoint: ``cluster, namespace`` when pools share one (same names may
    exist in two clusters; ``dctenant:namespace:info`` carries each pool's cluster), else ``namespace``."""
    label = model.datacentre.metrics.cluster_label
    return f"{label}, namespace" if label else "namespace"


def _at_quota(quota_series: str, keys: str) -> str:
    """Per namespace: 1 when the dctenant quota's ``pods`` is 0 (what suspension sets), else 0."""
    selector = quota_series.rstrip("}") + ',resource="pods",type="hard"}'
    return f"max by ({keys}) ({selector} == bool 0)"


def _alerts(where: str) -> str:
    """dctenant's firing alerts, each labelled ``enforcement`` with the state the enforcer acts on."""
    return " or ".join(
        f'label_replace(ALERTS{{alertstate="firing",alertname=~"{"|".join(names)}"{where}}}, '
        f'"enforcement", "{state}", "", "")' for state, names in STATES)


# The dashboards -----------------------------------------------------------------------------------


def _capacity(model: quotas.Quotas, *, keys: Sequence[str], quota_series: str) -> db.Dashboard:
    p = 'pool=~"$pool"'
    board = _board("dctenant / Data centre capacity", uid=UIDS["capacity"], variables=("pool",),
                   description="Staff: capacity, reserve, allocation and use per pool and resource; licences; "
                               "tenants under enforcement. Generated by `dctenant dashboards`; do not edit.")

    def total(record: str, by: str = "resource", where: str = "") -> str:
        return f"sum by ({by}) ({record}{{{p}{where}}})"

    board.with_row(_row("Overview"))
    allocated = f"{total(prometheus_rules.ENVELOPE)} / {total(capacity_rules.ALLOCATABLE)}"
    board.with_panel(_bars(
        "Allocated share of allocatable", _q(allocated, "{{resource}}", instant=True),
        unit="percentunit", thresholds=_thresholds((None, "green"), (0.9, "orange"), (1, "red")),
        description="Sum of the tenants' envelopes over capacity × overcommit − reserve."))
    board.with_panel(_bars(
        "Unallocated headroom", _q(f"1 - {allocated}", "{{resource}}", instant=True), unit="percentunit",
        thresholds=_thresholds((None, "red"), (0.05, "orange"), (0.2, "green")),
        description="What the allocator could still hand out, as a share of the allocatable amount."))
    board.with_panel(_table(
        "Per resource", _q(allocated, ref="A", table=True),
        _q(f"{total(prometheus_rules.USAGE)} / {total(capacity_rules.ALLOCATABLE)}", ref="B", table=True),
        _q(f"{total(prometheus_rules.USAGE)} / {total(prometheus_rules.ENVELOPE)}", ref="C", table=True),
        _q(f"{total(capacity_rules.RESERVE)} / {total(capacity_rules.CAPACITY)}", ref="D", table=True),
        columns={"A": ("allocated / allocatable", "percentunit"), "B": ("used / allocatable", "percentunit"),
                 "C": ("used / allocated", "percentunit"), "D": ("reserve / capacity", "percentunit")},
        description="Shares per resource; the rows below show the amounts in their units."))
    for key in keys:
        r = f',resource="{key}"'
        board.with_row(_row(_name(key)))
        board.with_panel(_series(
            f"{_name(key)}: capacity, reserve, allocated, used",
            _q(f"sum({capacity_rules.CAPACITY}{{{p}{r}}})", "capacity", ref="A"),
            _q(f"sum({capacity_rules.RESERVE}{{{p}{r}}})", "reserve", ref="B"),
            _q(f"sum({capacity_rules.ALLOCATABLE}{{{p}{r}}})", "allocatable", ref="C"),
            _q(f"sum({prometheus_rules.ENVELOPE}{{{p}{r}}})", "allocated", ref="D"),
            _q(f"sum({prometheus_rules.USAGE}{{{p}{r}}})", "used", ref="E"),
            _q(f"sum({capacity_rules.ALLOCATABLE}{{{p}{r}}}) - sum({prometheus_rules.ENVELOPE}{{{p}{r}}})",
               "headroom", ref="F"),
            unit=_unit(key), dashed="^(capacity|reserve|allocatable)$",
            description="Allocatable = capacity × overcommit − reserve; headroom = allocatable − allocated."))
        board.with_panel(_series(
            f"{_name(key)}: allocation by tenant", _q(total(prometheus_rules.ENVELOPE, "tenant", r), "{{tenant}}"),
            unit=_unit(key), stacked=True, description="Each tenant's envelope, stacked."))
    board.with_row(_row("Tenants"))
    board.with_panel(_stat("Tenants per enforcement state", *(
        _q(f'count(count by (tenant) (ALERTS{{alertstate="firing",alertname=~"{"|".join(names)}",{p}}})) '
           "or vector(0)", state, ref=chr(ord("A") + i), instant=True) for i, (state, names) in enumerate(STATES)),
        unit="short", width=24, thresholds=_thresholds((None, "green"), (1, "orange")),
        description="Tenants with a firing dctenant alert: warned (near envelope, licence expiring or in grace), "
                    "breaching (over envelope: the enforcer throttles), suspended (licence), unmeasured."))
    board.with_panel(_table(
        "Tenants under enforcement", _q(_alerts(f",{p}"), table=True), width=24,
        hidden=("Time", "Value", "__name__", "alertstate"),
        description="Firing dctenant alerts; `enforcement` is what the enforcer does about them."))
    board.with_panel(_timeline(
        "Suspension in force (pods quota 0)",
        _q(f"max by (tenant) ({_at_quota(quota_series, _keys(model))} * on ({_keys(model)}) group_left (tenant) "
           f"max by ({_keys(model)}, tenant) ({prometheus_rules.INFO}{{{p}}}))", "{{tenant}}"),
        mappings={0: ("serving", "green"), 1: ("suspended", "red")}, width=24,
        description="What the enforcer did, as kube-state-metrics sees it: a namespace whose dctenant quota "
                    "allows no pods is suspended."))
    _planning(board, p=p)
    warn_days = model.policy.licences.warning_days
    board.with_panel(_table(
        "Licences", _q(f"max by (tenant, licence) ({prometheus_rules.EXPIRY}) * 1000", ref="A", table=True),
        _q(f"max by (tenant, licence) ({prometheus_rules.EXPIRY}) - time()", ref="B", table=True),
        _q(f"max by (tenant, licence) ({prometheus_rules.GRACE_END}) - time()", ref="C", table=True),
        _q(f"max by (tenant, licence, status) ({prometheus_rules.STATUS})", ref="D", table=True),
        columns={"A": ("valid until (end)", "dateTimeAsIso"), "B": ("expires in", "dtdurations"),
                 "C": ("grace ends in", "dtdurations")},
        hidden=("Time", "Value #D"), height=10,
        description=f"Licences by expiry; owners are warned {warn_days} days ahead, and an expired licence is "
                    f"served for {model.policy.licences.grace_days} days of grace."))
    return board


def _planning(board: db.Dashboard, *, p: str) -> None:
    """The live counterparts of ``dctenant forecast`` and ``dctenant reclaim`` (docs/planning.md).

    Runway: one panel per pool (Grafana repeats it for each pool chosen, "All" included): each
    resource's used share of allocatable now, and where the least-squares line through the shown
    time range puts it ``RUNWAY_DAYS`` days ahead (``predict_linear``). The forecast command's
    Theil–Sen fit with its interval is the model of record; the panel is a glance.
    Reclaim: each tenant's idle share of its envelope over the shown range, by reclaim's own rule
    (the p95 of cpu, GPUs and bandwidth; the peak of memory and storage plus the margin). A
    resource with no usage series has no row: unknown, not idle.
    """
    method = reclaim.Method()
    used = (f"sum by (resource) ({prometheus_rules.USAGE}{{{p}}}) / on (resource) "
            f"sum by (resource) ({capacity_rules.ALLOCATABLE}{{{p}}})")
    board.with_row(_row("Runway and reclaim"))
    board.with_panel(_series(
        "Runway: $pool", _q(used, "{{resource}} now", ref="A"),
        _q(f"predict_linear(({used})[$__range:], {RUNWAY_DAYS * 86400})",
           f"{{{{resource}}}} in {RUNWAY_DAYS} days", ref="B"),
        unit="percentunit", width=12, dashed=f"in {RUNWAY_DAYS} days$",
        description=f"Used share of allocatable per resource, and {RUNWAY_DAYS} days ahead on the least-squares "
                    "trend of the shown time range (widen it to 14 d or more). 100 % is exhaustion. The model of "
                    "record, with its interval and the demand trend, is `dctenant report forecast`.")
        .repeat("pool").repeat_direction("h"))
    # Unescaped dots: a PromQL string has no "\." escape, and "." matching itself is all it needs to.
    rates = f"cpu|{resources.GPU}|bandwidth/.+"
    levels = "memory|storage/.+"
    need = (f"max without (storageclass) (quantile_over_time({method.quantile}, "
            f'{prometheus_rules.USAGE}{{{p},resource=~"{rates}"}}[$__range])) or '
            f"max without (storageclass) (max_over_time("
            f'{prometheus_rules.USAGE}{{{p},resource=~"{levels}"}}[$__range])) * {1 + method.margin}')
    envelope = f"({prometheus_rules.ENVELOPE}{{{p}}} > 0)"
    board.with_panel(_table(
        "Reclaim: idle share of envelope", _q(f"clamp_min(1 - ({need}) / on (tenant, pool, resource) {envelope}, 0)",
                                             ref="A", table=True),
        _q(f"({need}) / on (tenant, pool, resource) {envelope}", ref="B", table=True),
        columns={"A": ("idle share", "percentunit"), "B": ("need / envelope", "percentunit")},
        description=f"Need over the shown time range: p{method.quantile * 100:g} of cpu, GPUs and bandwidth; peak "
                    f"+ {method.margin * 100:g} % of memory and storage. Idle = 1 − need / envelope. Set the range "
                    "to the reclaim window (14 d); proposals and what others would gain: `dctenant report reclaim`.",
        width=24))


def _tenant(model: quotas.Quotas, *, keys: Sequence[str], quota_series: str) -> db.Dashboard:
    t = 'tenant="$tenant",pool=~"$pool"'
    board = _board("dctenant / Tenant", uid=UIDS["tenant"], variables=("pool", "tenant"),
                   description="A tenant's use of its envelope, per namespace, and enforcement. "
                               "Generated by `dctenant dashboards`; do not edit.")
    e = model.policy.enforcement
    board.with_row(_row("Envelope"))
    board.with_panel(_bars(
        "Use of envelope", _q(f"max by (resource) ({prometheus_rules.RATIO}{{{t}}})", "{{resource}}", instant=True),
        unit="percentunit", thresholds=_envelope_steps(model),
        description=f"Usage over envelope now; warned from {float(e.warning_at):.0%}, breaching above "
                    f"{float(e.breach_at):.0%}."))
    board.with_panel(_stat(
        "Licence", _q(f'max by (licence, status) ({prometheus_rules.STATUS}{{tenant="$tenant"}})',
                      "{{licence}}: {{status}}",
                      instant=True),
        unit="short", name_only=True, width=6))
    board.with_panel(_stat(
        "Licence expires in", _q(f'max({prometheus_rules.EXPIRY}{{tenant="$tenant"}}) - time()', "expires in",
                                 instant=True),
        unit="dtdurations", width=6, thresholds=_thresholds(
            (None, "red"), (0, "orange"), (model.policy.licences.warning_days * 86400, "green"))))
    board.with_row(_row("Usage against envelope"))
    for key in keys:
        r = f',resource="{key}"'
        board.with_panel(_series(
            _name(key), _q(f"sum by (pool) ({prometheus_rules.USAGE}{{{t}{r}}})", "used {{pool}}", ref="A"),
            _q(f"sum by (pool) ({prometheus_rules.ENVELOPE}{{{t}{r}}})", "envelope {{pool}}", ref="B"),
            unit=_unit(key), width=8, dashed="^envelope"))
    board.with_row(_row("Namespaces"))
    on = _keys(model)
    join = f"* on ({on}) group_left (tenant) max by ({on}, tenant) ({prometheus_rules.INFO}{{{t}}})"
    for measure, title, unit, by in (
            ("cpu", "CPU (cores)", "short", "namespace"), ("memory", "Memory", "bytes", "namespace"),
            ("nvidia.com/gpu", "GPUs requested", "short", "namespace"),
            ("storage-requested", "Storage claimed", "bytes", "namespace, storageclass"),
            ("storage-used", "Storage written", "bytes", "namespace, storageclass"),
            ("bandwidth/egress", "Egress", "bps", "namespace"), ("bandwidth/ingress", "Ingress", "bps", "namespace")):
        legend = "{{namespace}} {{storageclass}}" if "storageclass" in by else "{{namespace}}"
        board.with_panel(_series(title, _q(f"sum by ({by}) ({prometheus_rules.NAMESPACE_RECORDS[measure]} {join})",
                                           legend),
                                 unit=unit, width=8, stacked=True))
    board.with_row(_row("Enforcement"))
    board.with_panel(_timeline(
        "Envelope state by resource", _q(f"max by (resource) ({prometheus_rules.RATIO}{{{t}}})", "{{resource}}"),
        thresholds=_envelope_steps(model), unit="percentunit",
        description="Green within the envelope, orange when warned, red when breaching."))
    board.with_panel(_timeline(
        "Alerts (recent transitions)",
        _q(f'max by (alertname, resource, alertstate) (ALERTS{{alertname=~"Dctenant.*",{t}}})',
           "{{alertname}} {{resource}} {{alertstate}}"),
        mappings={1: ("active", "red")},
        description="dctenant's alerts about this tenant while pending or firing: what the enforcer acts on."))
    board.with_panel(_table("Firing now", _q(_alerts(f",{t}"), table=True),
                            hidden=("Time", "Value", "__name__", "alertstate", "tenant")))
    board.with_panel(_timeline(
        "Namespaces suspended (pods quota 0)",
        _q(f"{_at_quota(quota_series, on)} {join}", "{{namespace}}"),
        mappings={0: ("serving", "green"), 1: ("suspended", "red")}))
    return board


def _traffic(model: quotas.Quotas) -> db.Dashboard:
    p = 'pool=~"$pool"'
    board = _board("dctenant / Traffic", uid=UIDS["traffic"], variables=("pool",),
                   description="Auditors and operators: egress and ingress per tenant, period totals and shares. "
                               "Generated by `dctenant dashboards`; do not edit.")
    for key in (resources.EGRESS, resources.INGRESS):
        name, r = _name(key), f'{p},resource="{key}"'
        average = f"sum by (tenant) (avg_over_time({prometheus_rules.USAGE}{{{r}}}[$__range]))"
        board.with_row(_row(name))
        board.with_panel(_series(f"{name} by tenant", _q(f"sum by (tenant) ({prometheus_rules.USAGE}{{{r}}})",
                                                         "{{tenant}}"),
                                 unit="bps", stacked=True))
        board.with_panel(_series(f"{name}: use of envelope", _q(
            f"max by (tenant) ({prometheus_rules.RATIO}{{{r}}})", "{{tenant}}"), unit="percentunit"))
        board.with_panel(_table(
            f"{name} in the period", _q(f"{average} * $__range_s / 8", ref="A", table=True),
            _q(f"{average} / scalar(sum({average}))", ref="B", table=True),
            _q(f"max by (tenant) (max_over_time({prometheus_rules.USAGE}{{{r}}}[$__range]))", ref="C", table=True),
            columns={"A": ("bytes", "decbytes"), "B": ("share", "percentunit"), "C": ("peak", "bps")},
            width=12, description="Totals over the dashboard's time range: average rate × duration."))
        board.with_panel(_pie(f"{name} share in the period", _q(average, "{{tenant}}", instant=True), unit="bps",
                              description="Each tenant's share of the period's traffic."))
        board.with_panel(_stat(
            f"{name} total in the period", _q(f"sum({average}) * $__range_s / 8", "total", instant=True),
            unit="decbytes", width=12))
        board.with_panel(_stat(
            f"{name} peak in the period", _q(f"max_over_time(sum({prometheus_rules.USAGE}{{{r}}})[$__range:])", "peak",
                                                          instant=True), unit="bps", width=12))
    return board
