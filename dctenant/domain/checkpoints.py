"""Signed checkpoints of the audit log: the C2SP tlog-checkpoint body inside a C2SP signed note.

A checkpoint is the text an auditor, a tenant or the regulator's witness keeps to hold the log
to its past: the log's origin, how many events the tree had, and its root hash. It is signed so
that nobody without the key (kept outside the ledger database) can make one, and it is plain text
so that it fits in a report, an e-mail or a court file. The formats are those of the C2SP specs
(https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note, https://c2sp.org/tlog-cosignature),
so that tools written for other transparency logs read ours. Pure: parsing and formatting only;
signing and verifying live in ``clients.signing``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

# Signature types of the signed-note spec: the first byte of a key, hashed into its key ID.
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"  # every signature line starts with an em dash and a space

CHECKPOINT_FORMAT = ("a C2SP signed note: '<origin>' NL '<tree size>' NL '<base64 root hash>' NL, a blank line, "
                     "then signature lines '\u2014 <key name> <base64 signature>'")


class FormatError(ValueError):
    """Text that is not a checkpoint, a signed note or a key in the expected format (the message says which)."""


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The tree head a checkpoint commits to: ``size`` events, the first ``size`` of the log, under ``root``."""

    origin: str
    size: int
    root: bytes  # 32 bytes, RFC 6962 MTH

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @property
    def covers(self) -> str:
        """Which events it covers, in words: the events are numbered from 1, the leaves from 0."""
        return "no events" if self.size == 0 else f"events 1..{self.size}"


@dataclass(frozen=True, kw_only=True)
class Signature:
    """One signature line of a note: the signer's key name, its 4-byte key ID, and what follows it."""

    name: str
    key_id: bytes
    payload: bytes  # the signature (Ed25519) or timestamp and signature (cosignature/v1)

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.payload).decode()}\n"


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint and the signatures found under it (checked or not: see ``clients.signing``)."""

    checkpoint: Checkpoint
    signatures: tuple[Signature, ...]

    def text(self) -> str:
        return self.checkpoint.body() + "\n" + "".join(s.line() for s in self.signatures)


def key_id(name: str, kind: int, public: bytes) -> bytes:
    """The signed-note key ID: the first 4 bytes of SHA-256(name || 0x0A || type || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def check_name(name: str) -> str:
    """A key name (and origin) as the spec allows it: non-empty, printable, no spaces and no '+'."""
    if not name or "+" in name or any(c.isspace() or not c.isprintable() for c in name):
        raise FormatError(f"key name {name!r} must be non-empty, printable, without spaces or '+' "
                          "(for example dctenant.example/ledger)")
    return name


def parse_body(text: str) -> Checkpoint:
    """The checkpoint in a note body (extension lines after the root hash are allowed and ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise FormatError("a checkpoint body has at least three lines, each ending in a newline; "
                          f"expected {CHECKPOINT_FORMAT}")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise FormatError(f"the checkpoint's first line (its origin) is empty; expected {CHECKPOINT_FORMAT}")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise FormatError(f"the checkpoint's second line {size_text!r} is not a tree size (a decimal number "
                          "without leading zeros)")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        root = b""
    if len(root) != 32:
        raise FormatError(f"the checkpoint's third line {root_text!r} is not a base64 SHA-256 root hash")
    return Checkpoint(origin=origin, size=int(size_text), root=root)


def parse_note(text: str) -> SignedCheckpoint:
    """A signed checkpoint from its text; raise ``FormatError`` naming the expected format."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    body, sep, rest = text.partition("\n\n")
    if not sep:
        raise FormatError(f"no blank line between the checkpoint and its signatures; expected {CHECKPOINT_FORMAT}")
    checkpoint = parse_body(body + "\n")
    signatures: list[Signature] = []
    for line in rest.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise FormatError(f"signature line {line!r} is not '\u2014 <key name> <base64 signature>'")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            raise FormatError(f"signature line {line!r}: the signature is not base64") from None
        if len(raw) < 5:
            raise FormatError(f"signature line {line!r}: too short to hold a key ID and a signature")
        signatures.append(Signature(name=parts[1], key_id=raw[:4], payload=raw[4:]))
    if not signatures:
        raise FormatError(f"the checkpoint carries no signature; expected {CHECKPOINT_FORMAT}")
    return SignedCheckpoint(checkpoint=checkpoint, signatures=tuple(signatures))


def cosigned_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """What a witness signs (tlog-cosignature v1): a header with the time, then the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint.body()}".encode()


@dataclass(frozen=True, kw_only=True)
class WitnessRequest:
    """A checkpoint offered to a witness with the proof that it extends the one the witness last signed.

    Text form (C2SP tlog-witness add-checkpoint body): ``old <size>``, one base64 proof hash a line,
    a blank line, then the signed checkpoint.
    """

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def text(self) -> str:
        hashes = "".join(base64.b64encode(p).decode() + "\n" for p in self.proof)
        return f"old {self.old_size}\n{hashes}\n{self.checkpoint.text()}"


REQUEST_FORMAT = "'old <size>' NL, one base64 proof hash per line, a blank line, then the signed checkpoint"


def parse_request(text: str) -> WitnessRequest:
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old ") or not lines[0][4:].isdigit():
        raise FormatError(f"not a witness request; expected {REQUEST_FORMAT}")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 32:
            raise FormatError(f"proof line {line!r} is not a base64 SHA-256 hash; expected {REQUEST_FORMAT}")
        proof.append(digest)
    return WitnessRequest(old_size=int(lines[0][4:]), proof=tuple(proof), checkpoint=parse_note(note))
