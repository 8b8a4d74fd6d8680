"""The detectors' thresholds: defaults, the scheme's `fraud:` section, then FRAUD_* settings.

A scoring scheme (survey_templates/schemes/*.yaml) may carry a `fraud:` mapping whose keys are
the fields below; it is validated when the catalogue loads (an unknown key, a wrong type or a
value out of range stops the load with the file and key named). Deployment settings
FRAUD_<NAME> (configuration or environment) override the scheme, for operations only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


class FraudSettingsError(ValueError):
    """A `fraud:` section that cannot be used; names the key and the reason (Chinese)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class FraudSettings:
    """Thresholds of every detector."""

    lookback_days: int = 7
    baseline_days: int = 30  # bursts: an official's own trailing baseline
    burst_min: int = 10  # ratings in one hour, at least
    burst_factor: float = 5.0  # times the median of the official's active hours
    source_max_ratings: int = 10  # per day from one address or openid
    source_max_officials: int = 5  # distinct officials per day from one address or openid
    fast_seconds: int = 5  # seconds between the stamped opening and submission
    fast_min: int = 3  # fast ratings per official and day
    run_min: int = 30  # consecutive identical top or bottom scores in a campaign
    share_threshold: float = 0.8  # share of an official's events from one source
    share_min_events: int = 20
    share_excess: float = 0.3  # above the share expected from peers and own history
    max_rating_ids: int = 5000  # per review item
    # Aggregates per official and week, against peers and the official's own history.
    history_weeks: int = 4  # weeks of own history before the judged week
    min_links: int = 15  # links issued to judge a use rate
    min_ratings: int = 15  # ratings to judge a score shape
    min_peers: int = 4  # peers (same unit category and event type) to compare with
    peer_z: float = 3.0  # robust z against peers (with own_z against own history)
    own_z: float = 3.0  # z against the official's own history (when it has one)
    strong_z: float = 6.0  # against peers alone, whatever the history says
    spread_floor: float = 0.03  # least spread between officials assumed (rates, shares)
    unstamped_min: int = 3  # unstamped submissions per official and day, at least
    unstamped_share: float = 0.3  # share of a day's submissions, at least
    cluster_min: int = 6  # ratings of one official from one network range or device a week
    cluster_p: float = 1e-5  # Poisson tail below which a cluster is not chance

    @classmethod
    def from_config(cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                    scheme: Mapping[str, Any] | None = None) -> FraudSettings:
        """Build from the scheme's section, then FRAUD_* configuration or environment."""
        base = from_scheme(scheme) if scheme else cls()
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = f"FRAUD_{f.name.upper()}"
            raw = config.get(name, environ.get(name))
            if raw is not None and str(raw).strip():
                values[f.name] = type(f.default)(raw)
        return replace(base, **values)


RATIOS = frozenset({"share_threshold", "share_excess", "spread_floor", "unstamped_share",
                    "cluster_p"})


def from_scheme(section: Any) -> FraudSettings:
    """Validate a scheme's `fraud:` mapping and return the settings it gives.

    Every key is optional; integers must be whole and at least 1 (0 for none), numbers
    positive, shares and probabilities between 0 and 1.
    """
    if section is None:
        return FraudSettings()
    if not isinstance(section, Mapping):
        raise FraudSettingsError("fraud", "须为映射（键: 值）")
    known = {f.name: f for f in fields(FraudSettings)}
    values: dict[str, Any] = {}
    for key, raw in section.items():
        path = f"fraud.{key}"
        if key not in known:
            raise FraudSettingsError(path, "未知的防刷设置")
        values[key] = checked(path, key, raw, type(known[key].default))
    return FraudSettings(**values)


def checked(path: str, key: str, raw: Any, kind: type) -> int | float:
    """Return one setting's value, or raise FraudSettingsError naming why not."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FraudSettingsError(path, "须为数字")
    if kind is int:
        if raw != int(raw) or raw < 1:
            raise FraudSettingsError(path, "须为不小于 1 的整数")
        return int(raw)
    value = float(raw)
    if not value > 0 or value != value or value == float("inf"):
        raise FraudSettingsError(path, "须为正数")
    if key in RATIOS and value > 1:
        raise FraudSettingsError(path, "须在 0 到 1 之间")
    return value
