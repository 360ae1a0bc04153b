"""Writing local files: the one way dctenant puts rendered manifests, dashboards, reports and edited
quota files on disk.

Every write goes through a temporary file in the same directory and a rename, so that a reader
(a GitOps tool, Grafana's sidecar, an auditor's browser, the next ``dctenant`` run) never sees half
a file, and a failure becomes a ``UserError`` naming the path instead of a traceback.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator

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


def read_text(path: pathlib.Path) -> str | None:
    """The UTF-8 text of ``path``, or ``None`` when there is no such file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read the file: {exc.strerror or exc}", location=str(path)) from None


def ensure_directory(path: pathlib.Path) -> None:
    """Create ``path`` and its parents if missing."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the directory: {exc.strerror or exc}", location=str(path)) from None


def remove_files(root: pathlib.Path, relative: tuple[str, ...]) -> None:
    """Delete ``root/rel`` for each ``rel``, then every directory below ``root`` they leave empty."""
    for rel in relative:
        (root / rel).unlink(missing_ok=True)
    for directory in sorted({(root / rel).parent for rel in relative}, reverse=True):
        if directory != root and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def copy_tree(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy a directory tree (e.g. ``quotas/`` into a scratch directory to validate an edit)."""
    shutil.copytree(source, target)


@contextlib.contextmanager
def scratch_directory(prefix: str = "dctenant-") -> Iterator[pathlib.Path]:
    """A private temporary directory, removed with everything in it when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield pathlib.Path(name)
