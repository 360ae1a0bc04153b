"""``dctenant audit witness``: the regulator's countersignature, given only to a log that only grew.

A log key held at the data centre cannot stop the data centre itself from signing a rewritten
history. An independent witness can: it remembers the last checkpoint it cosigned and cosigns a
new one only with a valid RFC 6962 consistency proof from that one. A rollback (fewer events) or
a fork (a tree that does not extend the remembered one) is refused with a message saying which,
and the remembered checkpoint stays. Anyone holding a cosigned checkpoint then holds the log to a
history two parties vouched for. Cosignatures follow C2SP tlog-cosignature v1.
"""

from __future__ import annotations

import base64
import pathlib
from dataclasses import dataclass
from typing import Any

from dctenant.clients import files, signing, witness_store
from dctenant.domain import checkpoints
from dctenant.engine import merkle
from dctenant.errors import UserError
from dctenant.ops import auditing


class RefusedError(UserError):
    """The witness refuses to cosign: a rollback, a fork, or a checkpoint the log did not sign."""


@dataclass(frozen=True, kw_only=True)
class State:
    directory: str
    name: str
    public_key: str
    log_key: str
    last: checkpoints.SignedCheckpoint | None

    def as_dict(self) -> dict[str, Any]:
        cp = self.last.checkpoint if self.last else None
        return {"directory": self.directory, "name": self.name, "publicKey": self.public_key, "logKey": self.log_key,
                "treeSize": cp.size if cp else None, "covers": cp.covers if cp else None,
                "rootHash": base64.b64encode(cp.root).decode() if cp else None,
                "checkpoint": self.last.text() if self.last else None}


def _directory(path: str | None) -> pathlib.Path:
    return pathlib.Path(path).expanduser() if path else witness_store.default_directory()


def init(*, state: str | None, name: str, log_key_file: str) -> State:
    """A new witness: its own cosignature key, and the public key of the log it watches."""
    directory = _directory(state)
    log_key = signing.read_public(pathlib.Path(log_key_file).expanduser())
    try:
        signer = signing.generate(name=name, kind=checkpoints.COSIGNATURE_V1)
    except checkpoints.FormatError as exc:
        raise auditing.MalformedInputError(str(exc), location="--name") from None
    witness_store.create(directory, signer=signer, log_key=log_key)
    return show(state=state)


def show(*, state: str | None) -> State:
    directory = _directory(state)
    signer = witness_store.signer(directory)
    text = witness_store.last(directory)
    return State(directory=str(directory), name=signer.name, public_key=signer.verifier.text(),
                 log_key=witness_store.log_key(directory).text(),
                 last=checkpoints.parse_note(text) if text else None)


def cosign(*, state: str | None, request_file: str, now: int, out: str | None = None) -> checkpoints.SignedCheckpoint:
    """Cosign the request's checkpoint if it consistently extends the last one cosigned; else refuse."""
    directory = _directory(state)
    text = files.read_text(pathlib.Path(request_file))
    if text is None:
        raise UserError("no such witness request", location=request_file)
    try:
        request = checkpoints.parse_request(text)
    except checkpoints.FormatError as exc:
        raise auditing.MalformedInputError(f"not a witness request: {exc}", location=request_file) from None
    signer = witness_store.signer(directory)
    log_key = witness_store.log_key(directory)
    new = request.checkpoint.checkpoint
    if new.origin != log_key.name or not log_key.signed(request.checkpoint):
        raise RefusedError(f"the checkpoint is not signed by the log key {log_key.name} this witness watches",
                      location=request_file)
    with witness_store.locked(directory):
        remembered = witness_store.last(directory)
        old = checkpoints.parse_note(remembered).checkpoint if remembered else checkpoints.Checkpoint(
            origin=new.origin, size=0, root=merkle.EMPTY_ROOT)
        if new.size < old.size:
            raise RefusedError(f"rollback refused: the log now offers {new.covers}, but this witness already cosigned "
                          f"{old.covers}; events {new.size + 1}..{old.size} are gone from the log")
        if request.old_size != old.size:
            raise RefusedError(f"the proof starts from {request.old_size} events, but this witness last cosigned "
                          f"{old.size}; ask the log for `dctenant audit prove --since-size {old.size}`")
        try:
            merkle.verify_consistency(old=old.size, new=new.size, old_root=old.root, new_root=new.root,
                                      proof=request.proof)
        except merkle.ProofError as exc:
            same = "two different trees of the same size" if new.size == old.size else (
                f"its tree of {new.size} events does not extend the tree of {old.size} events this witness cosigned")
            raise RefusedError(f"fork refused: {same} ({exc}); the log's history was rewritten. The last cosigned "
                          f"checkpoint stays as it was") from None
        cosigned = signer.cosign(request.checkpoint, timestamp=now)
        witness_store.remember(directory, cosigned.text())
    if out is not None:
        files.write_atomically(pathlib.Path(out), cosigned.text())
    return cosigned
