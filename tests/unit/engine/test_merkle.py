"""RFC 6962 tree hashing, inclusion and consistency proofs against the Certificate Transparency vectors.

The leaves and expected hashes are the well-known ones from the CT reference implementations
(certificate-transparency's merkle_tree_test, transparency-dev/merkle testonly): published values,
not ones computed by this code. Larger trees are checked against a naive recursive implementation
written here straight from RFC 6962 section 2.1 (MTH, PATH, PROOF), independent of the product's
stored-subtree algorithm.
"""

from __future__ import annotations

import hashlib

import pytest

from dctenant.engine import merkle

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def _store(leaves: list[bytes]) -> merkle.Fetch:
    """A stored tree, built the way the ledger builds it: leaf by leaf through ``new_nodes``."""
    nodes: dict[merkle.Node, bytes] = {}
    for i, data in enumerate(leaves):
        frontier = {n: nodes[n] for n in merkle.frontier_of(i)}
        nodes.update(merkle.new_nodes(i, [merkle.leaf_hash(data)], frontier))
    return lambda wanted: {n: nodes[n] for n in wanted}


# The naive RFC 6962 definitions, written independently of the product's code.
def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    return [*_path(m, d[:k]), _mth(d[k:])] if m < k else [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def test_tree_heads_match_the_reference_roots() -> None:
    assert merkle.EMPTY_ROOT.hex() == EMPTY
    fetch = _store(LEAVES)
    assert merkle.root(0, fetch).hex() == EMPTY
    for size, expected in enumerate(ROOTS, start=1):
        assert merkle.root(size, fetch).hex() == expected, size
        builder = merkle.Builder()
        builder.extend(merkle.leaf_hash(d) for d in LEAVES[:size])
        assert builder.root().hex() == expected, size
        built, in_memory = merkle.tree_of(merkle.leaf_hash(d) for d in LEAVES[:size])
        assert (built, merkle.root(size, in_memory).hex()) == (size, expected)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(index, size, _store(LEAVES))
    assert [p.hex() for p in proof] == path
    merkle.verify_inclusion(index=index, size=size, leaf=merkle.leaf_hash(LEAVES[index]), proof=proof,
                            root_hash=bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(old, new, _store(LEAVES))
    assert [p.hex() for p in proof] == path
    merkle.verify_consistency(old=old, new=new, old_root=bytes.fromhex(ROOTS[old - 1]),
                              new_root=bytes.fromhex(ROOTS[new - 1]), proof=proof)


def test_every_proof_in_larger_trees_agrees_with_the_naive_definitions() -> None:
    data = [bytes([i, i * 7 % 256]) for i in range(37)]
    fetch = _store(data)
    for n in range(1, len(data) + 1):
        root = merkle.root(n, fetch)
        assert root == _mth(data[:n])
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, fetch)
            assert proof == _path(m, data[:n])
            merkle.verify_inclusion(index=m, size=n, leaf=merkle.leaf_hash(data[m]), proof=proof, root_hash=root)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, fetch)
            assert proof == (_subproof(m, data[:n], True) if m < n else [])
            merkle.verify_consistency(old=m, new=n, old_root=_mth(data[:m]), new_root=root, proof=proof)


def test_wrong_proofs_are_refused() -> None:
    fetch = _store(LEAVES)
    root8 = bytes.fromhex(ROOTS[7])
    proof = merkle.inclusion_proof(5, 8, fetch)
    leaf = merkle.leaf_hash(LEAVES[5])
    for index, size, path, leaf_hash in ((4, 8, proof, leaf), (5, 9, proof, leaf), (5, 8, proof[:-1], leaf),
                                         (5, 8, [*proof, proof[0]], leaf), (5, 8, proof, merkle.leaf_hash(b"x")),
                                         (8, 8, proof, leaf)):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index=index, size=size, leaf=leaf_hash, proof=path, root_hash=root8)
    cons = merkle.consistency_proof(6, 8, fetch)
    root6 = bytes.fromhex(ROOTS[5])
    for old, new, old_root, path in ((6, 8, bytes.fromhex(ROOTS[4]), cons), (5, 8, root6, cons),
                                     (6, 8, root6, cons[1:]), (6, 8, root6, [*cons, cons[0]]),
                                     (8, 6, root6, cons)):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old=old, new=new, old_root=old_root, new_root=root8, proof=path)
    with pytest.raises(merkle.ProofError, match="forked"):
        merkle.verify_consistency(old=8, new=8, old_root=root6, new_root=root8, proof=[])


def test_a_missing_leaf_is_a_proof_error() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(3, 3, _store(LEAVES))
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(4, 3, _store(LEAVES))


def test_the_builder_counts_its_leaves_and_keeps_the_root_at_each_marked_size() -> None:
    builder = merkle.Builder(marks=[3, 5, 20])
    assert (builder.size, builder.marked) == (0, {})
    builder.extend(merkle.leaf_hash(d) for d in LEAVES)
    assert builder.size == len(LEAVES)
    # The reference roots of the 3- and 5-leaf trees; size 20 was never reached.
    assert {size: h.hex() for size, h in builder.marked.items()} == {3: ROOTS[2], 5: ROOTS[4]}
    unmarked = merkle.Builder()
    unmarked.extend(merkle.leaf_hash(d) for d in LEAVES)
    assert (unmarked.size, unmarked.marked, unmarked.root().hex()) == (8, {}, ROOTS[7])
