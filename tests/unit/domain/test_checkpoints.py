"""Signed checkpoints checked by a second, minimal implementation written here from the C2SP specs.

Nothing below the ``# -- independent`` line imports dctenant: it reads and writes notes the way
https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint and https://c2sp.org/tlog-cosignature
describe them, using only hashlib, base64 and the Ed25519 primitive. The product must accept what it
writes, and it must accept what the product writes; a format drift on either side fails a test.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dctenant.clients import signing
from dctenant.domain import checkpoints
from dctenant.errors import UserError

# -- independent implementation (from the specs) ----------------------------------------------------


def spec_key_id(name: str, type_byte: int, public: bytes) -> bytes:
    # signed-note: "the first four bytes of SHA-256(key name || 0x0A || signature type || public key)"
    return hashlib.sha256(name.encode("utf-8") + b"\x0a" + bytes([type_byte]) + public).digest()[:4]


def spec_public(private: ed25519.Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def spec_sign(origin: str, size: int, root: bytes, name: str, private: ed25519.Ed25519PrivateKey) -> str:
    # tlog-checkpoint: origin, decimal size, base64 root, each line ending in a newline
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"
    signature = private.sign(body.encode("utf-8"))
    blob = spec_key_id(name, 0x01, spec_public(private)) + signature
    # signed-note: a blank line, then "— <name> <base64(key ID || signature)>" lines
    return body + "\n" + "\u2014 " + name + " " + base64.b64encode(blob).decode("ascii") + "\n"


def spec_verify(note: str, name: str, public: bytes) -> tuple[str, int, bytes]:
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    want = spec_key_id(name, 0x01, public)
    for line in signatures.splitlines():
        dash, signer, blob = line.split(" ")
        raw = base64.b64decode(blob)
        if dash == "\u2014" and signer == name and raw[:4] == want:
            ed25519.Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode("utf-8"))
            origin, size, root = body.split("\n")[:3]
            return origin, int(size), base64.b64decode(root)
    raise AssertionError("no signature by that key")


def spec_verify_cosignature(note: str, name: str, public: bytes) -> int:
    # tlog-cosignature v1: key type 0x04; blob = key ID || 8-byte big-endian time || signature over
    # "cosignature/v1\ntime <t>\n" followed by the checkpoint body
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        _, signer, blob = line.split(" ")
        raw = base64.b64decode(blob)
        if signer == name and raw[:4] == spec_key_id(name, 0x04, public):
            timestamp = int.from_bytes(raw[4:12], "big")
            message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
            ed25519.Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
            return timestamp
    raise AssertionError("no cosignature by that key")


# -- the product against it -------------------------------------------------------------------------

ROOT = hashlib.sha256(b"a root").digest()


def test_the_product_reads_notes_written_from_the_spec() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    text = spec_sign("ndc.example/ledger", 10, ROOT, "ndc.example/ledger", private)
    note = checkpoints.parse_note(text)
    assert (note.checkpoint.origin, note.checkpoint.size, note.checkpoint.root) == ("ndc.example/ledger", 10, ROOT)
    verifier = signing.Verifier(name="ndc.example/ledger", kind=0x01, public=spec_public(private))
    assert verifier.signed(note)
    assert note.text() == text  # and writes it back byte for byte
    other = signing.Verifier(name="ndc.example/ledger", kind=0x01,
                             public=spec_public(ed25519.Ed25519PrivateKey.generate()))
    assert not other.signed(note)
    tampered = checkpoints.parse_note(text.replace("\n10\n", "\n11\n"))
    assert not verifier.signed(tampered)


def test_the_spec_reads_notes_the_product_writes() -> None:
    signer = signing.generate(name="ndc.example/ledger")
    text = signer.sign(checkpoints.Checkpoint(origin="ndc.example/ledger", size=7, root=ROOT)).text()
    assert spec_verify(text, "ndc.example/ledger", signer.verifier.public) == ("ndc.example/ledger", 7, ROOT)
    # The verifier key text is name+hex(key ID)+base64(type || public key).
    name, key_id, blob = signer.verifier.text().split("+", 2)
    assert (name, key_id) == ("ndc.example/ledger", spec_key_id(name, 0x01, signer.verifier.public).hex())
    assert base64.b64decode(blob) == b"\x01" + signer.verifier.public


def test_witness_cosignatures_follow_tlog_cosignature_v1() -> None:
    log = signing.generate(name="ndc.example/ledger")
    witness = signing.generate(name="regulator.example/witness", kind=checkpoints.COSIGNATURE_V1)
    note = log.sign(checkpoints.Checkpoint(origin="ndc.example/ledger", size=3, root=ROOT))
    cosigned = witness.cosign(note, timestamp=1_764_400_000).text()
    assert spec_verify_cosignature(cosigned, "regulator.example/witness", witness.verifier.public) == 1_764_400_000
    assert spec_verify(cosigned, "ndc.example/ledger", log.verifier.public)[1] == 3
    assert witness.verifier.cosigned_at(checkpoints.parse_note(cosigned)) == 1_764_400_000


@pytest.mark.parametrize(("text", "words"), [
    ("deadbeef", "no blank line"),
    ("o\n10\nnot-base64!\n\n\u2014 k AAAAAAAA\n", "not a base64 SHA-256 root hash"),
    ("o\n010\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 k AAAAAAAA\n", "not a tree size"),
    ("o\n10\n" + base64.b64encode(ROOT).decode() + "\n\n", "carries no signature"),
    ("o\n10\n" + base64.b64encode(ROOT).decode() + "\n\n- k AAAAAAAA\n", "is not '\u2014 <key name>"),
])
def test_malformed_notes_name_the_expected_format(text: str, words: str) -> None:
    with pytest.raises(checkpoints.FormatError, match=words):
        checkpoints.parse_note(text)


def test_a_private_key_readable_by_others_is_refused(tmp_path: pathlib.Path) -> None:
    signer = signing.generate(name="ndc.example/ledger")
    path = tmp_path / "audit.key"
    signing.write_private(path, signer)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing.read_private(path) == signer
    path.chmod(0o640)
    with pytest.raises(UserError, match=r"readable by others \(mode 0640\); run `chmod 600"):
        signing.read_private(path)
    path.chmod(0o604)
    with pytest.raises(UserError, match="readable by others"):
        signing.read_private(path)
    with pytest.raises(UserError, match="never overwritten"):
        signing.write_private(path, signer)
