"""Running the self-service API with uvicorn, and refusing to expose it unencrypted by accident.

Tokens travel in every request, so the service only listens on a loopback address in plain HTTP.
Anything else needs ``--tls-cert``/``--tls-key`` (uvicorn terminates TLS) or an explicit
``--insecure`` from an operator whose ingress terminates TLS in front of it.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
from typing import Any

from dctenant.errors import UserError

# A bearer token sent in the query string is refused (only the header counts), but uvicorn's
# access log writes the path with its query: the values of such parameters, and anything shaped
# like a dctenant token, are replaced before the line is written.
_SECRET_PARAM = re.compile(r"(?i)([?&](?:access_token|token|auth|authorization|key|secret|password)=)[^&\s\"]*")
_TOKEN_TEXT = re.compile(r"dct_[0-9a-f]{12}_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    return _TOKEN_TEXT.sub("dct_REDACTED", _SECRET_PARAM.sub(r"\1REDACTED", text))


class RedactTokens(logging.Filter):
    """Blank secrets in the request line of an access-log record (and in any other of its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``RedactTokens`` on the access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": f"{__name__}.RedactTokens"}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact"]
    return config


def split_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UserError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:8080", location="--listen")
    return host.strip("[]"), int(port)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as exposed


def check_listen(host: str, *, tls_cert: str | None, tls_key: str | None, insecure: bool) -> None:
    """Refuse a non-loopback address without TLS (both files) or ``--insecure``."""
    if bool(tls_cert) != bool(tls_key):
        raise UserError("give both --tls-cert and --tls-key, or neither", location="--tls-cert")
    if not loopback(host) and not tls_cert and not insecure:
        raise UserError(f"refusing to serve bearer tokens in plain HTTP on {host}, which is not a loopback "
                        "address; give --tls-cert and --tls-key, or --insecure if an ingress in front "
                        "terminates TLS", location="--listen")


def run(app: Any, *, host: str, port: int, tls_cert: str | None = None, tls_key: str | None = None,
        workers_log_level: str = "info") -> None:
    """Serve ``app`` until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_config=log_config(),
                log_level=workers_log_level, proxy_headers=False, server_header=False)
