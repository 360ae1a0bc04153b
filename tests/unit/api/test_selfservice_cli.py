"""The self-service CLI client against a served fake service: --add/--to, token revoke ID, client configuration."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner

from dctenant.cli.main import main
from dctenant.clients import http
from dctenant.errors import UserError
from tests import selfservice_fakes


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``dctenant`` through its error boundary (``main``), as the console script does."""
    def run() -> None:
        main(list(args))

    result = CliRunner().invoke(click.Command("dctenant", callback=run), [], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def served(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[selfservice_fakes.Fakes, str]]:
    for name in ("DCTENANT_SERVER", "DCTENANT_TOKEN", "DCTENANT_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DCTENANT_CLIENT_CONFIG", str(tmp_path / "none.yaml"))
    with selfservice_fakes.served(tmp_path) as started:
        yield started


def test_increase_takes_add_or_to_exactly_once(served: Any) -> None:
    fakes, url = served
    remote = ("--server", url, "--token", fakes.token(tenant="bale"))
    code, _, err = invoke("request", "increase", "--pool", "lab", "--reason", "r", *remote)
    assert code == 2 and "--add" in err and "--to" in err
    code, _, err = invoke("request", "increase", "--pool", "lab", "--add", "cpu=1", "--to", "cpu=20",
                          "--reason", "r", *remote)
    assert code == 2
    code, out, err = invoke("request", "increase", "--pool", "lab", "--add", "cpu=8", "--add",
                            "storage/ssd-standard=1Gi", "--reason", "growth", *remote, "-o", "json")
    assert code == 0, err
    filed = json.loads(out)
    assert (filed["mode"], filed["amounts"]) == ("add", {"cpu": "8", "storage/ssd-standard": str(2**30)})
    code, out, err = invoke("request", "increase", "--pool", "lab", "--to", "cpu=20", "--reason", "r", *remote,
                            "-o", "json")
    assert code == 0 and json.loads(out)["mode"] == "to"
    code, _, err = invoke("request", "increase", "--pool", "lab", "--to", "cpu=12", "--reason", "r", *remote)
    assert code == 1 and "Not an increase" in err
    code, _, err = invoke("request", "increase", "--pool", "lab", "--add", "cpu", "--reason", "r", *remote)
    assert code == 2 and "RESOURCE=AMOUNT" in err


def test_token_revoke_takes_the_id(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.selfservice_quotas import write_quotas

    monkeypatch.delenv("DCTENANT_LEDGER", raising=False)
    quotas = write_quotas(tmp_path / "quotas")
    ledger = str(tmp_path / "state" / "ledger.db")
    code, out, err = invoke("token", "create", str(quotas), "--tenant", "bale", "--ledger", ledger, "-o", "json")
    assert code == 0, err
    token_id = json.loads(out)["id"]
    code, out, err = invoke("token", "revoke", token_id, str(quotas), "--ledger", ledger, "-o", "json")
    assert code == 0, err
    assert (json.loads(out)["id"], json.loads(out)["state"]) == (token_id, "revoked")
    code, _, err = invoke("token", "revoke", "000000000000", "--ledger", ledger)
    assert code == 1 and "no token '000000000000'" in err


def test_the_client_configuration_file(tmp_path: pathlib.Path, served: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fakes, url = served
    token = fakes.token(tenant="bale")
    config = tmp_path / "client.yaml"
    config.write_text(f"server: {url}\ntoken: {token}\n")
    monkeypatch.setenv("DCTENANT_CLIENT_CONFIG", str(config))
    os.chmod(config, 0o640)
    code, _, err = invoke("ns", "list", "-o", "json")
    assert code == 1 and "readable by others" in err and "chmod 600" in err and token not in err
    os.chmod(config, 0o600)
    code, out, err = invoke("ns", "list", "-o", "json")
    assert code == 0, err
    assert [n["name"] for n in json.loads(out)["namespaces"]] == ["bale-core"]
    # A token file, and the environment ahead of the file.
    secret = tmp_path / "token"
    secret.write_text(token + "\n")
    os.chmod(secret, 0o604)
    config.write_text(f"server: {url}\ntoken_file: token\n")
    code, _, err = invoke("ns", "list")
    assert code == 1 and "readable by others" in err
    os.chmod(secret, 0o600)
    assert invoke("ns", "list", "-o", "json")[0] == 0
    code, _, err = invoke("ns", "list", env={"DCTENANT_TOKEN": "dct_000000000000_" + "x" * 43})
    assert code == 1 and "401" in err


def test_settings_precedence_and_errors(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "client.yaml"
    assert http.settings(server=None, token=None, config=config) == http.Settings(server=None, token=None)
    config.write_text("server: https://a.example\n")
    found = http.settings(server="https://b.example", token=None, config=config)
    assert (found.server, found.token) == ("https://b.example", None)
    config.write_text("server: https://a.example\nbogus: 1\n")
    with pytest.raises(UserError):
        http.settings(server=None, token=None, config=config)
