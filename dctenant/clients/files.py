"""Writing local files: the one way dctenant puts rendered manifests, dashboards, reports and edited
quota files on disk.

Every write goes through a temporary file in the same directory and a rename, so that a reader
(a GitOps tool, Grafana's sidecar, an auditor's browser, the next ``dctenant`` run) never sees half
a file, and a failure becomes a ``UserError`` naming the path instead of a traceback.
"""

from __future__ import annotations

import os
import pathlib

from dctenant.errors import UserError


def write_atomically(target: pathlib.Path, data: str | bytes) -> None:
    """Replace ``target`` with ``data`` (text as UTF-8 with ``\\n`` line ends), creating its directory."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    temporary = target.with_name(f".{target.name}.dctenant-tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(raw)
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"cannot write the file: {exc.strerror or exc}", location=str(target)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
