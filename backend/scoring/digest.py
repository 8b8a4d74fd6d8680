"""The histogram digest that lets anyone check a published score's inputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from .histogram import Histogram, sorted_counts

# json.dumps with these options; built once, as publication encodes one per official.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_histograms(group_histograms: Mapping[str, Histogram]) -> str:
    """Render the per-group histograms as canonical JSON, omitting empty groups."""
    return canonical_pairs({group: sorted_counts(hist) for group, hist in group_histograms.items()})


def canonical_pairs(group_pairs: Mapping[str, list[tuple[int, int]]]) -> str:
    """Render validated (score, count) pairs per group as the canonical JSON."""
    document = {
        group: {str(score): count for score, count in pairs}
        for group, pairs in group_pairs.items()
        if pairs
    }
    # sort_keys orders score keys as strings ("10" before "2"): odd to read, but it is the
    # published canonical form that outside parties recompute, so it must not change.
    return _CANONICAL.encode(document)


def histogram_digest(group_histograms: Mapping[str, Histogram]) -> str:
    """Return "sha256:<hex>" of the canonical JSON of the per-group histograms."""
    return _sha256(canonical_histograms(group_histograms))


def pairs_digest(group_pairs: Mapping[str, list[tuple[int, int]]]) -> str:
    """Return the histogram digest from validated (score, count) pairs per group."""
    return _sha256(canonical_pairs(group_pairs))


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
