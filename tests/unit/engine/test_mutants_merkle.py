"""engine.merkle's refusals in full words, and its boundaries: index = size, old = 0, a proof one node too long.

The proofs refused here are made by the product from a four-leaf tree and then bent by hand (cut,
lengthened, pointed at another root), so each refusal is the one that names what is wrong.
"""

from __future__ import annotations

import re

import pytest

from dctenant.engine import merkle

LEAVES = [merkle.leaf_hash(bytes([i])) for i in range(4)]
SIZE, FETCH = merkle.tree_of(LEAVES)
ROOT = merkle.root(SIZE, FETCH)
OTHER = merkle.leaf_hash(b"other")


def _refused(message: str) -> pytest.RaisesExc[merkle.ProofError]:
    return pytest.raises(merkle.ProofError, match=f"^{re.escape(message)}$")


def test_proofs_are_asked_for_leaves_and_sizes_that_exist() -> None:
    with _refused("leaf 4 is not in a tree of 4 leaves"):
        merkle.inclusion_proof(4, 4, FETCH)
    with _refused("no consistency proof from 5 leaves to 4"):
        merkle.consistency_proof(5, 4, FETCH)
    assert merkle.consistency_proof(0, 4, FETCH) == []  # from the empty tree: nothing to prove


def test_an_inclusion_proof_is_refused_in_words() -> None:
    proof = merkle.inclusion_proof(1, 4, FETCH)
    merkle.verify_inclusion(index=1, size=4, leaf=LEAVES[1], proof=proof, root_hash=ROOT)
    with _refused("leaf 4 is not in a tree of 4 leaves"):
        merkle.verify_inclusion(index=4, size=4, leaf=LEAVES[1], proof=proof, root_hash=ROOT)
    with _refused("the inclusion proof is longer than the tree is deep"):
        merkle.verify_inclusion(index=0, size=1, leaf=LEAVES[0], proof=[OTHER], root_hash=LEAVES[0])
    with _refused("leaf 1 is not in the tree of 4 leaves with that root hash"):
        merkle.verify_inclusion(index=1, size=4, leaf=LEAVES[1], proof=proof, root_hash=OTHER)


def test_a_consistency_proof_is_refused_in_words() -> None:
    _, fetch_two = merkle.tree_of(LEAVES[:2])
    old_root = merkle.root(2, fetch_two)
    proof = merkle.consistency_proof(2, 4, FETCH)
    merkle.verify_consistency(old=2, new=4, old_root=old_root, new_root=ROOT, proof=proof)
    with _refused("a tree of 3 leaves cannot extend one of 4: that is a rollback"):
        merkle.verify_consistency(old=4, new=3, old_root=ROOT, new_root=ROOT, proof=[])
    with _refused("a consistency proof from the empty tree must be empty"):
        merkle.verify_consistency(old=0, new=4, old_root=merkle.EMPTY_ROOT, new_root=ROOT, proof=[OTHER])
    with _refused("the consistency proof is empty"):
        merkle.verify_consistency(old=3, new=4, old_root=OTHER, new_root=ROOT, proof=[])
    with _refused("the consistency proof is longer than it can be"):
        merkle.verify_consistency(old=2, new=4, old_root=old_root, new_root=ROOT, proof=[*proof, OTHER])
    with _refused("the tree of 4 leaves does not extend the tree of 2 leaves with that root"):
        merkle.verify_consistency(old=2, new=4, old_root=old_root, new_root=OTHER, proof=proof)
