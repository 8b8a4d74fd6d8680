"""The sample thresholds pages show: read from the scoring scheme, as publication reads them."""

from __future__ import annotations

from dataclasses import dataclass

from backend.scoring import DEFAULT_SCHEME_DICT, scheme_from_dict
from backend.services.templates.catalogue import Catalogue


@dataclass(frozen=True)
class SampleThresholds:
    """How many valid ratings an official needs, counted over how many trailing months."""

    minimum: int
    months: int


def sample_thresholds(catalogue: Catalogue, scheme_key: str = "default") -> SampleThresholds:
    """Return the low-sample thresholds of a scheme (the built-in default if it is missing)."""
    loaded = catalogue.schemes.get(scheme_key)
    if loaded is None:
        scheme = scheme_from_dict(DEFAULT_SCHEME_DICT)
    else:  # the version number is given at registration; it changes no threshold
        scheme = scheme_from_dict({**loaded.definition, "version": 1}, f"schemes/{loaded.key}")
    return SampleThresholds(scheme.low_sample_min, scheme.low_sample_months)
