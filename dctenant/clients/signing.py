"""Ed25519 keys for the audit log and its witness: making them, keeping them private, signing, verifying.

A signature only means something if the key is not where the attacker is. The ledger database
is exactly where an insider is, so the key is never stored there: it lives in a file only its
owner can read (a file that group or others can read is refused) or in an environment variable
filled from a secret store. Keys use the C2SP signed-note text encodings
(``PRIVATE+KEY+<name>+<key id>+<base64>`` and ``<name>+<key id>+<base64>``), so that other
transparency-log tools can check our checkpoints. ``cryptography`` is imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import os
import pathlib
import stat
from dataclasses import dataclass

from dctenant.domain import checkpoints
from dctenant.errors import UserError

KEY_ENV = "DCTENANT_AUDIT_KEY"  # the private key itself, for writers fed from a secret store
KEY_FILE_ENV = "DCTENANT_AUDIT_KEY_FILE"
PUBLIC_KEY_ENV = "DCTENANT_AUDIT_PUBLIC_KEY"  # the verifier key text (name+id+base64)
KEY_FORMAT = ("PRIVATE+KEY+<name>+<8 hex digits>+<base64 of type byte and 32-byte seed> "
              "(written by `dctenant audit keygen`)")
PUBLIC_FORMAT = "<name>+<8 hex digits>+<base64 of type byte and 32-byte public key>"


def default_key_file() -> pathlib.Path:
    """``$XDG_CONFIG_HOME/dctenant/audit.key`` (``~/.config``): outside the state directory the ledger is in."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(pathlib.Path.home() / ".config")
    return pathlib.Path(config) / "dctenant" / "audit.key"


@dataclass(frozen=True, kw_only=True)
class Verifier:
    """A public key: checks signature lines that carry its name and key ID."""

    name: str
    kind: int
    public: bytes

    @property
    def key_id(self) -> bytes:
        return checkpoints.key_id(self.name, self.kind, self.public)

    def text(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([self.kind]) + self.public).decode()}"

    def _check(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ed25519

        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def signed(self, note: checkpoints.SignedCheckpoint) -> bool:
        """Whether one of the note's signatures is this key's valid Ed25519 signature of its body."""
        body = note.checkpoint.body().encode()
        return any(s.name == self.name and s.key_id == self.key_id and len(s.payload) == 64
                   and self._check(body, s.payload) for s in note.signatures)

    def cosigned_at(self, note: checkpoints.SignedCheckpoint) -> int | None:
        """The time (Unix seconds) of this witness key's valid cosignature on the note, or None."""
        for s in note.signatures:
            if s.name == self.name and s.key_id == self.key_id and len(s.payload) == 72:
                timestamp = int.from_bytes(s.payload[:8], "big")
                if self._check(checkpoints.cosigned_message(note.checkpoint, timestamp), s.payload[8:]):
                    return timestamp
        return None


@dataclass(frozen=True, kw_only=True)
class Signer:
    """A private key (its 32-byte seed) and what it signs: checkpoints (Ed25519) or cosignatures."""

    name: str
    kind: int
    seed: bytes

    @property
    def verifier(self) -> Verifier:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        public = ed25519.Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Verifier(name=self.name, kind=self.kind, public=public)

    def _sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def text(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, checkpoint: checkpoints.Checkpoint) -> checkpoints.SignedCheckpoint:
        signature = checkpoints.Signature(name=self.name, key_id=self.verifier.key_id,
                                          payload=self._sign(checkpoint.body().encode()))
        return checkpoints.SignedCheckpoint(checkpoint=checkpoint, signatures=(signature,))

    def cosign(self, note: checkpoints.SignedCheckpoint, *, timestamp: int) -> checkpoints.SignedCheckpoint:
        """The note with this witness's cosignature added (tlog-cosignature v1: time and signature)."""
        payload = timestamp.to_bytes(8, "big") + self._sign(checkpoints.cosigned_message(note.checkpoint, timestamp))
        mine = checkpoints.Signature(name=self.name, key_id=self.verifier.key_id, payload=payload)
        others = tuple(s for s in note.signatures if (s.name, s.key_id) != (mine.name, mine.key_id))
        return checkpoints.SignedCheckpoint(checkpoint=note.checkpoint, signatures=(*others, mine))


def generate(*, name: str, kind: int = checkpoints.ED25519) -> Signer:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return Signer(name=checkpoints.check_name(name), kind=kind, seed=seed)


def write_private(path: pathlib.Path, signer: Signer) -> None:
    """Create ``path`` readable by its owner only; an existing file is never overwritten."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError("a key file is already there; move it away first (a key is never overwritten)",
                        location=str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot create the key file: {exc.strerror}", location=str(path)) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(signer.text() + "\n")


def write_public(path: pathlib.Path, verifier: Verifier) -> None:
    try:
        path.write_text(verifier.text() + "\n", encoding="ascii")
    except OSError as exc:
        raise UserError(f"cannot write the public key: {exc.strerror}", location=str(path)) from None


def parse_private(text: str, *, where: str) -> Signer:
    parts = text.strip().split("+", 4)  # base64 may hold '+'; names and key IDs may not
    try:
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ValueError
        raw = base64.b64decode(parts[4], validate=True)
        if len(raw) != 33 or raw[0] not in (checkpoints.ED25519, checkpoints.COSIGNATURE_V1):
            raise ValueError
        signer = Signer(name=checkpoints.check_name(parts[2]), kind=raw[0], seed=raw[1:])
        if signer.verifier.key_id.hex() != parts[3].lower():
            raise ValueError
    except (ValueError, binascii.Error):
        raise UserError(f"not a private key; expected {KEY_FORMAT}", location=where) from None
    return signer


def parse_public(text: str, *, where: str) -> Verifier:
    parts = text.strip().split("+", 2)  # base64 may hold '+'; names and key IDs may not
    try:
        if len(parts) != 3:
            raise ValueError
        raw = base64.b64decode(parts[2], validate=True)
        if len(raw) != 33 or raw[0] not in (checkpoints.ED25519, checkpoints.COSIGNATURE_V1):
            raise ValueError
        verifier = Verifier(name=checkpoints.check_name(parts[0]), kind=raw[0], public=raw[1:])
        if verifier.key_id.hex() != parts[1].lower():
            raise ValueError
    except (ValueError, binascii.Error):
        raise UserError(f"not a public key; expected {PUBLIC_FORMAT}", location=where) from None
    return verifier


def read_private(path: pathlib.Path) -> Signer:
    """The key in ``path``, refused if anyone but its owner may read it (an insider could copy it)."""
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserError(f"the private key file is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                            f"run `chmod 600 {path}`, and make a new key if others may have copied it",
                            location=str(path))
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the private key: {exc}", location=str(path)) from None
    return parse_private(text, where=str(path))


def read_public(path: pathlib.Path) -> Verifier:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the public key: {exc}", location=str(path)) from None
    return parse_public(text, where=str(path))


def configured_signer(key_file: str | None = None) -> Signer | None:
    """The log key: ``key_file``, else ``$DCTENANT_AUDIT_KEY``, ``$DCTENANT_AUDIT_KEY_FILE``, the default file.

    None when none is configured.
    """
    if key_file:
        return read_private(pathlib.Path(key_file).expanduser())
    if text := os.environ.get(KEY_ENV):
        return parse_private(text, where=f"${KEY_ENV}")
    if path := os.environ.get(KEY_FILE_ENV):
        return read_private(pathlib.Path(path).expanduser())
    default = default_key_file()
    return read_private(default) if default.exists() else None


def configured_verifier(public_key: str | None = None) -> Verifier | None:
    """The log's public key: ``public_key`` file, ``$DCTENANT_AUDIT_PUBLIC_KEY``, ``audit.pub`` beside the
    default key, else derived from the configured private key; None when none is known."""
    if public_key:
        return read_public(pathlib.Path(public_key).expanduser())
    if text := os.environ.get(PUBLIC_KEY_ENV):
        return parse_public(text, where=f"${PUBLIC_KEY_ENV}")
    default = default_key_file().with_suffix(".pub")
    if default.exists():
        return read_public(default)
    signer = configured_signer()
    return signer.verifier if signer else None
