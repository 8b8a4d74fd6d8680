"""The histogram digest that lets anyone check a published score's inputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from .histogram import Histogram, sorted_counts


def canonical_histograms(group_histograms: Mapping[str, Histogram]) -> str:
    """Render the per-group histograms as canonical JSON, omitting empty groups."""
    document = {}
    for group, hist in group_histograms.items():
        counts = {str(score): count for score, count in sorted_counts(hist)}
        if counts:
            document[group] = counts
    # sort_keys orders score keys as strings ("10" before "2"): odd to read, but it is the
    # published canonical form that outside parties recompute, so it must not change.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def histogram_digest(group_histograms: Mapping[str, Histogram]) -> str:
    """Return "sha256:<hex>" of the canonical JSON of the per-group histograms."""
    payload = canonical_histograms(group_histograms).encode("utf-8")
    return "sha256:" + hashlib.sha256(payload).hexdigest()
