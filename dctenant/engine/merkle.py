"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification, apart from any database.

The per-event hash chain only shows that the events still hold together; it cannot show that
nobody rewrote all of them. A Merkle tree over the events, whose head is signed (a checkpoint),
gives what transparency logs give: anyone holding an earlier head can check that the log only
grew (a consistency proof) and a tenant can check that its event is in it (an inclusion proof),
each in O(log n) hashes. The hashing is exactly RFC 6962 section 2.1 so that any transparency-log
tool (and the reference test vectors) agrees with it.

The ledger stores every *perfect* subtree (a node at ``level`` covering leaves
``[index * 2**level, (index + 1) * 2**level)``); every other hash a proof needs is assembled here
from those. Pure: no clock, file or network; nodes come in through a callback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

Hash = bytes
# (level, index) of a perfect subtree: 2**level leaves starting at leaf index * 2**level.
Node = tuple[int, int]
Fetch = Callable[[Sequence[Node]], Mapping[Node, Hash]]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify, or asks about sizes that make no sense."""


def leaf_hash(data: bytes) -> Hash:
    """``SHA-256(0x00 || data)``: RFC 6962's hash of a leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    """``SHA-256(0x01 || left || right)``: RFC 6962's hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def new_nodes(size: int, leaves: Sequence[Hash], frontier: Mapping[Node, Hash]) -> dict[Node, Hash]:
    """The perfect subtrees that appending ``leaves`` to a tree of ``size`` leaves completes.

    ``frontier`` holds the tree's current perfect subtrees along its right edge (``frontier_of``);
    the result includes the new leaves themselves (level 0). Each append costs O(log n) hashes.
    """
    known = dict(frontier)
    out: dict[Node, Hash] = {}
    for offset, leaf in enumerate(leaves):
        level, index, digest = 0, size + offset, leaf
        out[(0, index)] = known[(0, index)] = digest
        while index % 2 == 1:
            left = known[(level, index - 1)]
            digest = node_hash(left, digest)
            level, index = level + 1, index // 2
            out[(level, index)] = known[(level, index)] = digest
    return out


def frontier_of(size: int) -> list[Node]:
    """The perfect subtrees that make up a tree of ``size`` leaves, left to right (one per set bit)."""
    nodes: list[Node] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _range(start: int, end: int, get: Callable[[Node], Hash]) -> Hash:
    """MTH of leaves ``[start, end)``, where ``start`` is aligned as RFC 6962's recursion leaves it."""
    width = end - start
    if width & (width - 1) == 0 and start % width == 0:
        return get(((width.bit_length() - 1), start // width))
    k = _split(width)
    return node_hash(_range(start, start + k, get), _range(start + k, end, get))


def _fetched(fetch: Fetch, compute: Callable[[Callable[[Node], Hash]], list[Hash]]) -> list[Hash]:
    """Run ``compute`` twice: once to learn which nodes it needs, then with them all fetched at once."""
    wanted: list[Node] = []

    def record(node: Node) -> Hash:
        wanted.append(node)
        return EMPTY_ROOT

    compute(record)
    found = fetch(sorted(set(wanted)))
    return compute(lambda node: found[node])


def root(size: int, fetch: Fetch) -> Hash:
    """The tree head (MTH) of the first ``size`` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return _fetched(fetch, lambda get: [_range(0, size, get)])[0]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[Hash]:
    """RFC 6962 ``PATH(index, D[0:size])``: the audit path of leaf ``index`` (0-based)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")

    def path(get: Callable[[Node], Hash]) -> list[Hash]:
        out: list[Hash] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                out.append(_range(start + k, end, get))
                end = start + k
            else:
                out.append(_range(start, start + k, get))
                start, m = start + k, m - k
        out.reverse()  # RFC 6962 lists the path from the leaf upwards
        return out

    return _fetched(fetch, path)


def consistency_proof(old: int, new: int, fetch: Fetch) -> list[Hash]:
    """RFC 6962 ``PROOF(old, D[0:new])``: that the first ``old`` leaves are unchanged in ``new``."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} leaves to {new}")
    if old in (0, new):
        return []

    def subproof(get: Callable[[Node], Hash]) -> list[Hash]:
        out: list[Hash] = []
        start, end, m, whole = 0, new, old, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                out.append(_range(start + k, end, get))
                end = start + k
            else:
                out.append(_range(start, start + k, get))
                start, m, whole = start + k, m - k, False
        if not whole:
            out.append(_range(start, end, get))
        out.reverse()
        return out

    return _fetched(fetch, subproof)


def verify_inclusion(*, index: int, size: int, leaf: Hash, proof: Sequence[Hash], root_hash: Hash) -> None:
    """RFC 9162 2.1.3.2: raise ``ProofError`` unless ``proof`` puts ``leaf`` at ``index`` under ``root_hash``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root_hash:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with that root hash")


def verify_consistency(*, old: int, new: int, old_root: Hash, new_root: Hash, proof: Sequence[Hash]) -> None:
    """RFC 9162 2.1.4.2: raise ``ProofError`` unless the tree of ``new`` leaves extends the one of ``old``."""
    if old > new:
        raise ProofError(f"a tree of {new} leaves cannot extend one of {old}: that is a rollback")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError(f"two different trees of {old} leaves: the log forked")
        return
    if old == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself the proof's first node
        path.insert(0, old_root)
    if not path:
        raise ProofError("the consistency proof is empty")
    fn, sn = old - 1, new - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than it can be")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"the tree of {new} leaves does not extend the tree of {old} leaves with that root")


def tree_of(leaves: Iterable[Hash]) -> tuple[int, Fetch]:
    """Every perfect subtree of the tree over ``leaves``, in memory: the size and a ``Fetch`` for them.

    What ``audit verify`` builds from the events themselves when a checkpoint does not match, to find
    the first event that differs; about two entries per leaf.
    """
    nodes: dict[Node, Hash] = {}
    size = 0
    for leaf in leaves:
        level, index, digest = 0, size, leaf
        nodes[(0, index)] = digest
        while index % 2 == 1:
            digest = node_hash(nodes[(level, index - 1)], digest)
            level, index = level + 1, index // 2
            nodes[(level, index)] = digest
        size += 1
    return size, lambda wanted: {n: nodes[n] for n in wanted}


class Builder:
    """A tree grown leaf by leaf in memory with O(log n) state: what ``verify`` recomputes while it walks."""

    def __init__(self, *, marks: Iterable[int] = ()) -> None:
        self.size = 0
        # The perfect subtrees' hashes, left to right, largest first: the binary digits of ``size``.
        self._stack: list[Hash] = []
        self._marks = frozenset(marks)
        self.marked: dict[int, Hash] = {}  # the root at each size in ``marks`` the tree has reached

    def add(self, leaf: Hash) -> None:
        # The hot loop of ``audit verify``: adding leaf number n merges as many subtrees as n has
        # trailing zero bits; hashlib is bound locally and the stack holds bare hashes.
        self.size = n = self.size + 1
        stack, sha = self._stack, hashlib.sha256
        while not n & 1:
            leaf = sha(b"\x01" + stack.pop() + leaf).digest()
            n >>= 1
        stack.append(leaf)
        if self._marks and self.size in self._marks:
            self.marked[self.size] = self.root()

    def extend(self, leaves: Iterable[Hash]) -> None:
        for leaf in leaves:
            self.add(leaf)

    def root(self) -> Hash:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest
