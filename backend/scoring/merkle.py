"""Hashes of the rating ledger: leaf, chain and Merkle tree (stdlib only, no database).

- leaf_hash = sha256 of the canonical JSON of a rating's content (see `leaf_content`);
  it includes the receipt hash, a secret of the rater, so a leaf cannot be guessed from
  a score and an official.
- chain_hash = sha256(previous chain hash + leaf hash) over the hex strings, starting at
  GENESIS (64 zeros).
- The Merkle tree of a day is RFC 6962's (Certificate Transparency): leaf node
  sha256(0x00 || leaf), inner node sha256(0x01 || left || right), split at the largest power
  of two below the size. Proofs list the siblings bottom-up with their side.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64
LEAF_VERSION = "ssp-ledger-v1"
Range = tuple[int, int]


class RatingContent(Protocol):
    id: int
    cadre_id: int
    rater_group: str
    score: int
    tags: Any
    comment: str | None
    template_id: int
    event_type: str | None
    batch_at: datetime
    month: str
    receipt_hash: str


# One encoder for every leaf: json.dumps with options would build a new one per call.
_LEAF_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def utc_isoformat(moment: datetime) -> str:
    """Return an aware time in UTC as ISO 8601 (cached: a batch's ratings share their hour)."""
    return moment.astimezone(UTC).isoformat()


def leaf_content(rating: RatingContent) -> str:
    """Return the canonical JSON a leaf hash covers (status is left out on purpose)."""
    return _LEAF_ENCODER.encode([LEAF_VERSION, rating.id, rating.cadre_id, rating.rater_group,
                                 rating.score, sorted(rating.tags or []), rating.comment,
                                 rating.template_id, rating.event_type,
                                 utc_isoformat(rating.batch_at),
                                 rating.month, rating.receipt_hash])


def leaf_hash(rating: RatingContent) -> str:
    """Return the leaf hash of a rating."""
    return hashlib.sha256(leaf_content(rating).encode()).hexdigest()


def chain_hash(previous: str, leaf: str) -> str:
    """Return the chain hash after appending a leaf."""
    return hashlib.sha256((previous + leaf).encode()).hexdigest()


def leaf_node(leaf: str) -> bytes:
    """Return the Merkle node of a leaf hash."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(leaf)).digest()


def inner_node(left: bytes, right: bytes) -> bytes:
    """Return the Merkle node over two children."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """Return the largest power of two strictly below size (size > 1)."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def audit_ranges(index: int, size: int, offset: int = 0) -> list[tuple[Range, str]]:
    """Return the leaf ranges of the proof siblings of `index`, bottom-up, with their side."""
    if size <= 1:
        return []
    k = split(size)
    if index < k:
        return [*audit_ranges(index, k, offset), ((offset + k, offset + size), "right")]
    return [*audit_ranges(index - k, size - k, offset + k), ((offset, offset + k), "left")]


@dataclass
class MerkleBuilder:
    """Compute a Merkle root leaf by leaf in O(log n) memory, keeping wanted subtree hashes."""

    wanted: set[Range] = field(default_factory=set)
    found: dict[Range, bytes] = field(default_factory=dict)
    stack: list[tuple[int, int, bytes]] = field(default_factory=list)  # (start, end, node)
    size: int = 0

    def push(self, leaf: str) -> None:
        """Add the next leaf hash."""
        node = leaf_node(leaf)
        if self.wanted:
            self._keep(self.size, self.size + 1, node)
        self.stack.append((self.size, self.size + 1, node))
        self.size += 1
        # Merge perfect subtrees of equal width: these are the aligned nodes of the tree.
        while len(self.stack) >= 2 and (self.stack[-1][1] - self.stack[-1][0]
                                        == self.stack[-2][1] - self.stack[-2][0]):
            (start, _, left), (_, end, right) = self.stack[-2], self.stack[-1]
            self.stack[-2:] = [(start, end, inner_node(left, right))]
            if self.wanted:
                self._keep(start, end, self.stack[-1][2])

    def root(self) -> bytes:
        """Return the root over the leaves pushed so far (folding the right edge)."""
        if not self.stack:
            return hashlib.sha256(b"").digest()
        start, end, node = self.stack[-1]
        for left_start, _, left in reversed(self.stack[:-1]):
            start, node = left_start, inner_node(left, node)
            self._keep(start, end, node)
        return node

    def _keep(self, start: int, end: int, node: bytes) -> None:
        if (start, end) in self.wanted:
            self.found[(start, end)] = node


def merkle_root(leaves: Iterable[str]) -> str:
    """Return the hex Merkle root of leaf hashes in order."""
    builder = MerkleBuilder()
    for leaf in leaves:
        builder.push(leaf)
    return builder.root().hex()


def verify_proof(leaf: str, proof: Sequence[dict[str, str]], root: str) -> bool:
    """Tell whether a proof (siblings bottom-up, each {"side", "hash"}) leads to root."""
    node = leaf_node(leaf)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        node = inner_node(sibling, node) if step["side"] == "left" else inner_node(node, sibling)
    return node.hex() == root


def receipt_hash(receipt: str, index: int) -> str:
    """Return the stored commitment to a receipt (one per rating of a ballot)."""
    return hashlib.sha256(f"{receipt}:{index}".encode()).hexdigest()


def accepted_hash(receipt: str) -> str:
    """Return the hash a pending rating is found by: unlike its ratings' receipt hashes, so
    nothing stored joins a pending row to the ratings it becomes."""
    return hashlib.sha256(f"accepted:{receipt}".encode()).hexdigest()
