"""Every table fits a terminal of 80 and of 120 columns with every name whole.

The output is rendered by rich Consoles of exactly those widths (the module-level ``console.stdout``
is replaced), then read back as a person would: each table's rows, first cell by first cell.
Expected tenants and pools come from the loaded example and the plan's JSON, not from the tables.
"""

from __future__ import annotations

import io
import json
import pathlib
from decimal import Decimal

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from dctenant.cli import console
from dctenant.cli.commands import enforce
from dctenant.cli.main import cli
from dctenant.domain import usage
from dctenant.loaders import loading
from tests.conftest import EXAMPLE

AT = "2026-11-27"
WIDTHS = (80, 120)
MODEL = loading.load(EXAMPLE)
TENANTS = {t.id: t for t in MODEL.tenants}


def at_width(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(console, "stdout", Console(file=buffer, width=width, highlight=False, soft_wrap=False,
                                                   color_system=None))
    return buffer


def blocks(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header cells, rows of cells) of every table in ``text``; a title may wrap over lines."""
    lines = text.splitlines()
    found: list[tuple[str, list[str], list[list[str]]]] = []
    title: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("┏"):
            header = [c.strip() for c in lines[i + 1].split("┃")[1:-1]]
            rows: list[list[str]] = []
            i += 3
            while not lines[i].startswith("└"):
                rows.append([c.strip() for c in lines[i].split("│")[1:-1]])
                i += 1
            found.append((" ".join(t.strip() for t in title), header, rows))
            title = []
        elif not line.startswith(("│", "┃", "┡", "└")):
            title.append(line)
        i += 1
    return found


def first_cells(rows: list[list[str]]) -> list[str]:
    """The first column's values; a wrapped cell continues on rows whose first cell is empty."""
    return [r[0] for r in rows if r[0]]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_tables_fit_and_show_every_tenant_whole(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    _, out, _ = run("plan", str(EXAMPLE), "--at", AT, "-o", "json")
    plan = json.loads(out)
    buffer = at_width(monkeypatch, width)
    code, _, _ = run("plan", str(EXAMPLE), "--at", AT)
    assert code == 0
    text = buffer.getvalue()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    tables = blocks(text)
    for pool in MODEL.datacentre.pool_names:
        expected = sorted(tid for tid, t in plan["tenants"].items() if pool in t["pools"])
        parts = [(h, rows) for title, h, rows in tables if title.startswith(f"Tenants in {pool}:")]
        assert parts, pool
        shown_columns: set[str] = set()
        for header, rows in parts:
            assert header[0] == "tenant"
            assert first_cells(rows) == expected  # every part repeats every tenant, whole, in order
            shown_columns.update(header)
        keys = set(plan["pools"][pool])
        assert keys | {"tenant", "state", "served", "w. share", "limited by"} == shown_columns
        pool_parts = [rows for title, _, rows in tables if title.startswith(f"Pool {pool}")]
        for rows in pool_parts:
            names = [c.removesuffix(" (saturated)") for c in first_cells(rows)]
            assert names == list(plan["pools"][pool]), (pool, names)


def test_a_table_that_fits_exactly_is_not_split_and_one_column_more_is() -> None:
    table = console.new_table("t", "tenant", "amount", right=("amount",))
    table.add_row("soroush", "12345")
    # Widths 7 and 6 ("amount"), plus 3 per column and 1: 7 + 6 + 3 * 2 + 1 = 20.
    needed = [7, 6]
    assert table.parts(needed, width=20) == [[0, 1]]
    assert table.parts(needed, width=19) == [[0, 1]]  # nothing to split off: the one value column stays
    wide = console.new_table("t", "tenant", "a", "b", right=("a", "b"))
    wide.add_row("soroush", "1" * 10, "2" * 10)
    # tenant 7, a 10, b 10: whole = 27 + 9 + 1 = 37; tenant + one = 17 + 6 + 1 = 24.
    assert wide.parts([7, 10, 10], width=37) == [[0, 1, 2]]
    assert wide.parts([7, 10, 10], width=36) == [[0, 1], [0, 2]]
    assert wide.parts([7, 10, 10], width=24) == [[0, 1], [0, 2]]


def test_identifying_columns_are_the_fewest_that_tell_rows_apart() -> None:
    table = console.new_table("t", "Tenant", "Pool", "Tier", "Resource", "Amount", right=("Amount",))
    for pool in ("thr-ab", "mhd-1"):
        for resource in ("cpu", "memory"):
            table.add_row("bale", pool, "national", resource, "1")
    # Tenant alone: 1 distinct; + Pool: 2; Tier adds nothing; + Resource: 4 = every row.
    assert table.identifying() == [0, 1, 3]


@pytest.mark.parametrize("width", WIDTHS)
def test_report_tables_keep_tenant_names_whole(monkeypatch: pytest.MonkeyPatch, width: int,
                                               tmp_path: pathlib.Path) -> None:
    buffer = at_width(monkeypatch, width)
    code, _, _ = run("report", "licences", str(EXAMPLE), "--period", "2026-11", "--ledger",
                     str(tmp_path / "ledger.db"), "--generated-at", "2026-11-27T08:00:00Z")
    assert code == 0
    text = buffer.getvalue()
    # The provenance lines above the tables are soft-wrapped by the terminal (one line per source).
    assert max(cell_len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= width
    tables = blocks(text)
    assert tables
    for _, header, rows in tables:
        assert header[0] == "Tenant"
        ids = [cell.split(" ", 1)[0] for cell in first_cells(rows)]
        assert ids == sorted(TENANTS)
        for cell in first_cells(rows):  # "bale (بله)": the Persian name is whole too
            tid = cell.split(" ", 1)[0]
            assert cell == f"{tid} ({TENANTS[tid].display_name.fa})"


@pytest.mark.parametrize("width", [60, *WIDTHS])
def test_explanation_keeps_its_indentation_when_wrapped(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    buffer = at_width(monkeypatch, width)
    code, _, _ = run("plan", str(EXAMPLE), "--at", AT, "--explain", "bale")
    assert code == 0
    lines = buffer.getvalue().splitlines()
    assert max(cell_len(line) for line in lines) <= width
    pools = [i for i, line in enumerate(lines) if line.startswith("In pool ")]
    assert len(pools) == 3  # bale asks in thr-ab, thr-pd and mhd-1
    for start in pools:
        body = []
        for line in lines[start + 1:]:
            if not line.startswith(" "):
                break
            body.append(line)
        assert body, lines[start]
        assert all(line.startswith("  ") for line in body)
    _, out, _ = run("plan", str(EXAMPLE), "--at", AT, "--explain", "bale", "-o", "json")
    explanation = json.loads(out)["explanation"]
    indented = [line for line in explanation if line.startswith("  ")]
    assert len([line for line in lines if line.startswith("  ")]) >= len(indented)
    if width == 60:  # some items do wrap at 60 columns, and their continuations are indented too
        assert len(lines) > len(explanation)


def decision(tenant: str, pool: str, resource: str, state: usage.State, reason: str, action: str = ""
             ) -> usage.Decision:
    return usage.Decision(tenant=tenant, pool=pool, resource=resource, state=state, usage=None,
                          envelope=Decimal(1), action=action, reason=reason)


def test_unknown_rows_with_one_cause_are_grouped_and_others_stay_alone() -> None:
    cause = "no data (Prometheus at http://127.0.0.1:9 is unreachable); nothing is escalated or undone"
    rows = [decision(t, p, r, usage.State.UNKNOWN, f"{t} {r}: {cause}")
            for t in ("bale", "eitaa") for p in ("thr-ab", "mhd-1") for r in ("cpu", "memory")]
    rows.append(decision("gap", "thr-ab", "cpu", usage.State.UNKNOWN, "gap cpu: no data (no series); nothing"))
    rows.append(decision("wispi", "isf-1", "licence", usage.State.SUSPENDED, "wispi licence suspended", "suspend"))
    rows.append(decision("navak", "isf-1", "licence", usage.State.SUSPENDED, "wispi licence suspended", "suspend"))
    groups = enforce.grouped(rows)
    assert [len(members) for members, _ in groups] == [8, 1, 1, 1]
    assert groups[0][1] == cause
    assert groups[1][1] == "gap cpu: no data (no series); nothing"


@pytest.mark.parametrize("width", WIDTHS)
def test_enforce_groups_unknown_rows_and_all_shows_each(monkeypatch: pytest.MonkeyPatch, width: int,
                                                       tmp_path: pathlib.Path) -> None:
    # Port 9 (discard) on loopback has no listener: every measured row is unknown for one cause.
    args = ["enforce", str(EXAMPLE), "--prometheus", "http://127.0.0.1:9", "--once", "--at", AT,
            "--ledger", str(tmp_path / "l.db"), "--state", str(tmp_path / "s.json"), "--timeout", "2"]
    code, out, _ = run(*args, "-o", "json")
    assert code == 1  # missing data
    data = json.loads(out)
    not_ok = [d for d in data["decisions"] if d["state"] != "ok" or d["action"] != "none"]
    unknown = [d for d in not_ok if d["state"] == "unknown"]
    assert len(unknown) > 100
    buffer = at_width(monkeypatch, width)
    run(*args)
    text = buffer.getvalue()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    tables = blocks(text)
    rows = first_cells(tables[0][2])
    assert len(rows) == len(not_ok) - len(unknown) + 1
    assert f"{len(not_ok)} rows shown as {len(rows)}" in " ".join(text.split())
    buffer = at_width(monkeypatch, width)
    run(*args, "--all")
    text = buffer.getvalue()
    every = first_cells(blocks(text)[0][2])
    assert sorted(every) == sorted(d["tenant"] for d in not_ok)
    assert "grouped" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_show_tables_fit_and_name_every_tenant_and_resource(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    buffer = at_width(monkeypatch, width)
    code, _, _ = run("show", str(EXAMPLE), "--at", AT)
    assert code == 0
    text = buffer.getvalue()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    tables = blocks(text)
    tenant_parts = [rows for title, _, rows in tables if title.startswith("Tenants")]
    assert tenant_parts
    for rows in tenant_parts:
        assert first_cells(rows) == sorted(TENANTS)
    _, out, _ = run("show", str(EXAMPLE), "--at", AT, "-o", "json")
    pools = json.loads(out)["pools"]
    for name, pool in pools.items():
        parts = [rows for title, _, rows in tables if f"Pool {name} " in title]
        assert parts, name
        for rows in parts:
            assert first_cells(rows) == list(pool["resources"])


@pytest.mark.parametrize("width", WIDTHS)
def test_a_value_wider_than_the_terminal_wraps_under_whole_keys(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    buffer = at_width(monkeypatch, width)
    quota = ", ".join(f"storage/class-{i}={i * 1099511627776}" for i in range(12))  # ~400 characters
    table = console.new_table("Namespaces", "name", "pool", "quota")
    for name in ("rubika-messaging", "rubika-ml"):
        table.add_row(name, "thr-ab", quota)
    console.stdout.print(table)
    text = buffer.getvalue()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    tables = blocks(text)
    with_quota = [rows for _, header, rows in tables if "quota" in header]
    assert len(with_quota) == 1
    assert first_cells(with_quota[0]) == ["rubika-messaging", "rubika-ml"]
    quota_column = next(h for _, h, _ in tables if "quota" in h).index("quota")
    wrapped = " ".join(r[quota_column] for r in with_quota[0][:len(with_quota[0]) // 2])
    assert wrapped.replace(" ", "") == quota.replace(" ", "")  # the first row's value, whole, over lines
