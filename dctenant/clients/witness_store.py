"""The witness's state directory: its own key, the log key it trusts, and the last checkpoint it signed.

The witness runs at the regulator, on another machine, so that nobody at the data centre can
change what it remembers. Its memory is one file: the last checkpoint it cosigned. Each cosigning
holds an exclusive lock on the directory while it reads that file, checks the proof against it
and replaces it, so two cosignings can never both extend the same old checkpoint (the lock is
the fence: the check and the write happen under it). The directory is created readable by its
owner only, and the key file is refused if others can read it (``clients.signing``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
from collections.abc import Iterator

from dctenant.clients import files, signing
from dctenant.errors import UserError

KEY = "witness.key"
PUBLIC = "witness.pub"
LOG_KEY = "log.pub"
LAST = "checkpoint"
LOCK = ".lock"


def default_directory() -> pathlib.Path:
    state = os.environ.get("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return pathlib.Path(state) / "dctenant-witness"


def create(directory: pathlib.Path, *, signer: signing.Signer, log_key: signing.Verifier) -> None:
    """A new state directory; refused if one is there (a witness forgetting its past is a rollback)."""
    if (directory / KEY).exists() or (directory / LAST).exists():
        raise UserError("a witness already lives here; its memory is never reset", location=str(directory))
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    except OSError as exc:
        raise UserError(f"cannot create the witness directory: {exc.strerror}", location=str(directory)) from None
    signing.write_private(directory / KEY, signer)
    signing.write_public(directory / PUBLIC, signer.verifier)
    signing.write_public(directory / LOG_KEY, log_key)


def signer(directory: pathlib.Path) -> signing.Signer:
    if not (directory / KEY).exists():
        raise UserError("no witness here: run `dctenant audit witness init` first", location=str(directory))
    return signing.read_private(directory / KEY)


def log_key(directory: pathlib.Path) -> signing.Verifier:
    return signing.read_public(directory / LOG_KEY)


def last(directory: pathlib.Path) -> str | None:
    """The text of the last cosigned checkpoint, or None before the first."""
    return files.read_text(directory / LAST)


def remember(directory: pathlib.Path, text: str) -> None:
    files.write_atomically(directory / LAST, text)


@contextlib.contextmanager
def locked(directory: pathlib.Path) -> Iterator[None]:
    """Hold the witness's exclusive lock (released when the process ends, even if it dies)."""
    try:
        handle = open(directory / LOCK, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise UserError(f"cannot lock the witness directory: {exc.strerror}", location=str(directory)) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
