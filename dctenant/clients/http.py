"""The self-service API as the ``dctenant ns``/``request``/``token`` commands reach it: httpx over HTTP(S).

Kept in ``clients`` because it is network I/O. Problem documents (RFC 9457) come back as
``UserError`` (the caller's mistake: 4xx, with the field errors) or ``BackendError`` (the service
or its cluster failed: 5xx, or no answer), so the CLI's single error boundary prints one line.
Messages never contain the token.

``settings`` finds the server and the token the way ssh finds its keys: the command line, then
the environment (``$DCTENANT_SERVER``, ``$DCTENANT_TOKEN``), then the client configuration file
(``$DCTENANT_CLIENT_CONFIG``, else ``$XDG_CONFIG_HOME/dctenant/client.yaml``, else
``~/.config/dctenant/client.yaml``) with ``server:`` and either ``token:`` or ``token_file:``. A
file that holds a token must not be readable by group or others; such a file is refused, not used.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dctenant.errors import BackendError, UserError

TIMEOUT = 60.0


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the API is and the token to use; ``source`` says where each came from (for messages)."""

    server: str | None
    token: str | None
    source: str = ""


def config_path() -> pathlib.Path:
    """The client configuration file: ``$DCTENANT_CLIENT_CONFIG`` or the XDG default."""
    explicit = os.environ.get("DCTENANT_CLIENT_CONFIG")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(pathlib.Path("~/.config").expanduser())
    return pathlib.Path(base) / "dctenant" / "client.yaml"


def _private(path: pathlib.Path, *, field: str) -> None:
    """Refuse a file that holds a token and that group or others may read (like ssh's private keys)."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"{path} holds a token and is readable by others (mode {stat.S_IMODE(mode):03o}); "
                        f"run: chmod 600 {path}", location=f"{path} {field}")


def settings(*, server: str | None, token: str | None, config: pathlib.Path | None = None) -> Settings:
    """``server`` and ``token`` as given (flags or environment), completed from the configuration file."""
    if server and token:
        return Settings(server=server, token=token, source="command line or environment")
    path = config or config_path()
    if not path.is_file():
        return Settings(server=server, token=token)
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the client configuration: {str(exc)[:200]}", location=str(path)) from None
    if not isinstance(data, dict) or not set(data) <= {"server", "token", "token_file"}:
        raise UserError("the client configuration is a map of server, token or token_file",
                        location=str(path))
    found_server = server or data.get("server")
    found_token = token
    if not found_token and data.get("token"):
        _private(path, field="token")
        found_token = str(data["token"])
    elif not found_token and data.get("token_file"):
        token_path = pathlib.Path(str(data["token_file"])).expanduser()
        if not token_path.is_absolute():
            token_path = path.parent / token_path
        if not token_path.is_file():
            raise UserError(f"token_file {token_path} does not exist", location=f"{path} token_file")
        _private(token_path, field="token_file")
        found_token = token_path.read_text(encoding="utf-8").strip()
    if found_server is not None and not isinstance(found_server, str):
        raise UserError("server is a URL such as https://dctenant.example", location=f"{path} server")
    return Settings(server=found_server, token=found_token, source=str(path))


class Service:
    """One self-service API endpoint and the bearer token to use with it."""

    def __init__(self, *, server: str, token: str, timeout: float = TIMEOUT, transport: Any = None) -> None:
        import httpx

        if not server.startswith(("http://", "https://")):
            raise UserError(f"{server!r} is not an http:// or https:// URL", location="--server")
        self.server = server.rstrip("/")
        self._client = httpx.Client(base_url=self.server, timeout=timeout, transport=transport,
                                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """Send one request and return its decoded JSON; a problem document raises."""
        import httpx

        try:
            response = self._client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the self-service API at {self.server}: {type(exc).__name__}: "
                               f"{str(exc)[:200]}") from None
        try:
            data = response.json() if response.content else None
        except json.JSONDecodeError:
            data = None
        if response.status_code < 400:
            return data
        problem = data if isinstance(data, dict) else {}
        text = f"{problem.get('title') or response.reason_phrase}: {problem.get('detail') or response.text[:200]}"
        errors = problem.get("errors") or []
        if isinstance(errors, list):
            text += "".join(f"\n  {e.get('field', '')}: {e.get('message', '')}"
                            + (f" ({e['hint']})" if e.get("hint") else "") for e in errors if isinstance(e, dict))
        if response.status_code >= 500:
            raise BackendError(f"{self.server} answered {response.status_code}: {text}")
        raise UserError(f"{response.status_code} {text}")
