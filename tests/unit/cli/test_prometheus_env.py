"""Every command that reads Prometheus takes its URL from one variable, ``$DCTENANT_PROMETHEUS_URL``.

``$DCTENANT_PROMETHEUS`` (what snapshot, reclaim and forecast read before) is still accepted, with a
warning on stderr, and never wins over the documented name. Each command is pointed at a port
nothing listens on: the URL it names in its error is the one it chose.
"""

from __future__ import annotations

import pathlib
import socket

import pytest
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.errors import DctenantError

ROOT = pathlib.Path(__file__).resolve().parents[3]
QUOTAS = str(ROOT / "quotas")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: a connection is refused at once


def commands(tmp_path: pathlib.Path) -> dict[str, list[str]]:
    return {"enforce": ["enforce", QUOTAS, "--once", "--state", str(tmp_path / "state.json")],
            "snapshot": ["snapshot", QUOTAS, "--period", "2026-10", "--ledger", str(tmp_path / "ledger.db")],
            "reclaim": ["reclaim", QUOTAS],
            "forecast": ["forecast", QUOTAS, "--ledger", str(tmp_path / "ledger.db")],
            "report reclaim": ["report", "reclaim", QUOTAS, "--ledger", str(tmp_path / "ledger.db")]}


def run(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    """Exit code and everything printed, with the error ``cli.main`` would print (it alone catches them)."""
    result = CliRunner().invoke(cli, args, env=env)
    if isinstance(result.exception, DctenantError):
        return 1, result.stdout + result.stderr + str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["enforce", "snapshot", "reclaim", "forecast", "report reclaim"])
def test_each_command_reads_the_documented_variable(name: str, tmp_path: pathlib.Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, text = run(commands(tmp_path)[name], {"DCTENANT_PROMETHEUS_URL": url, "DCTENANT_PROMETHEUS": None})
    assert code == 1
    assert f"Prometheus at {url} is unreachable" in " ".join(text.split())
    assert "deprecated" not in text


@pytest.mark.parametrize("name", ["enforce", "snapshot", "reclaim", "forecast", "report reclaim"])
def test_the_old_name_still_works_with_a_warning(name: str, tmp_path: pathlib.Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, text = run(commands(tmp_path)[name], {"DCTENANT_PROMETHEUS_URL": None, "DCTENANT_PROMETHEUS": url})
    flat = " ".join(text.split())
    assert code == 1 and f"Prometheus at {url} is unreachable" in flat
    assert ("warning: $DCTENANT_PROMETHEUS is deprecated and will be removed: set $DCTENANT_PROMETHEUS_URL "
            "instead") in flat


def test_the_documented_name_wins_over_the_old_one(tmp_path: pathlib.Path) -> None:
    new, old = f"http://127.0.0.1:{closed_port()}", "http://old.invalid:9090"
    code, text = run(commands(tmp_path)["reclaim"], {"DCTENANT_PROMETHEUS_URL": new, "DCTENANT_PROMETHEUS": old})
    flat = " ".join(text.split())
    assert code == 1 and f"Prometheus at {new} is unreachable" in flat and "old.invalid" not in flat
    assert "$DCTENANT_PROMETHEUS is deprecated and ignored" in flat


def test_a_required_url_names_the_variable_when_missing(tmp_path: pathlib.Path) -> None:
    code, text = run(commands(tmp_path)["enforce"], {"DCTENANT_PROMETHEUS_URL": None, "DCTENANT_PROMETHEUS": None})
    assert code == 2 and "--prometheus" in text and "$DCTENANT_PROMETHEUS_URL" in text


class _OpenedError(Exception):
    """Raised by the stand-in for ``open_service``: ``serve`` stops before it listens."""


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], {"DCTENANT_PROMETHEUS_URL": "http://127.0.0.1:1", "DCTENANT_PROMETHEUS": None}, "http://127.0.0.1:1"),
    (["--prometheus", "http://127.0.0.1:2"], {"DCTENANT_PROMETHEUS_URL": "http://127.0.0.1:1"}, "http://127.0.0.1:2"),
    ([], {"DCTENANT_PROMETHEUS_URL": None, "DCTENANT_PROMETHEUS": None}, None),
])
def test_serve_reads_the_documented_variable(args: list[str], env: dict[str, str | None], expected: str | None,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """``serve`` takes its optional usage endpoint the same way: the flag, else the variable, else none."""
    from dctenant.ops import selfservice_usecases

    seen: list[str | None] = []

    def open_service(path: str, **kwargs: object) -> None:
        seen.append(kwargs["prometheus_url"])  # type: ignore[arg-type]
        raise _OpenedError

    monkeypatch.setattr(selfservice_usecases, "open_service", open_service)
    result = CliRunner().invoke(cli, ["serve", QUOTAS, "--ledger", str(tmp_path / "l.db"), *args], env=env)
    assert isinstance(result.exception, _OpenedError), result.output
    assert seen == [expected]
