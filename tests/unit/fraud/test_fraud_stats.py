"""The fraud detectors' statistics, stamps, ranges and thresholds: pure, no app, no database."""

from __future__ import annotations

import importlib.util
import math
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO_ROOT = Path(__file__).resolve().parents[3]
FRAUD = REPO_ROOT / "backend" / "services" / "fraud"
PURE = ("stats", "stamps", "settings", "ranges")


def load(name: str):
    """Load one module of the fraud package by its file, without the package (pure)."""
    spec = importlib.util.spec_from_file_location(f"fraud_{name}", FRAUD / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stats, stamps, settings, ranges = (load(n) for n in PURE)
NOW = datetime(2026, 11, 21, 4, 30, tzinfo=UTC)


def test_the_pure_modules_load_no_web_or_database_framework():
    probe = ("import importlib.util, sys\n"
             f"for name in {PURE!r}:\n"
             f"    spec = importlib.util.spec_from_file_location(name, {str(FRAUD)!r} + "
             "f'/{name}.py')\n"
             "    module = sys.modules[name] = importlib.util.module_from_spec(spec)\n"
             "    spec.loader.exec_module(module)\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('flask', 'sqlalchemy', 'flask_sqlalchemy', 'backend')))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=REPO_ROOT)
    assert done.stdout.strip() == "[]"


def test_median_and_mad_ignore_a_few_wild_values():
    assert stats.median([]) == 0.0 and stats.median([3, 1, 2]) == 2 and stats.median([4, 1]) == 2.5
    honest = [0.55, 0.58, 0.6, 0.61, 0.62, 0.64, 0.66]
    assert stats.median([*honest, 1.0, 1.0]) == pytest.approx(0.62)
    assert stats.mad(honest) == pytest.approx(1.4826 * 0.03)
    assert stats.mad([*honest, 1.0, 1.0]) < 2 * stats.mad(honest)


def test_mad_estimates_the_standard_deviation_of_a_normal_sample():
    rng = random.Random(3)
    sample = [rng.gauss(0, 2.0) for _ in range(20000)]
    assert stats.mad(sample) == pytest.approx(2.0, rel=0.03)


def test_between_spread_takes_the_sampling_noise_out():
    rng = random.Random(5)
    # Forty officials whose true rate is the same: their observed spread is all noise.
    sizes = [40] * 40
    rates = [sum(rng.random() < 0.6 for _ in range(n)) / n for n in sizes]
    assert stats.between_spread(rates, sizes, 0.03) == 0.03  # only the floor is left
    # With true rates spread by 0.1, most of that spread remains.
    true_rates = [min(0.95, max(0.05, rng.gauss(0.6, 0.1))) for _ in range(200)]
    rates = [sum(rng.random() < rate for _ in range(400)) / 400 for rate in true_rates]
    assert 0.07 < stats.between_spread(rates, [400] * 200, 0.01) < 0.13
    assert stats.between_spread([], [], 0.04) == 0.04


def test_overdispersed_z_counts_both_noise_and_spread():
    assert stats.overdispersed_z(30, 50, 0.6, 0.0) == 0.0
    plain = stats.overdispersed_z(40, 50, 0.6, 0.0)
    assert plain == pytest.approx(10 / math.sqrt(50 * 0.24))
    assert stats.overdispersed_z(40, 50, 0.6, 0.05) < plain  # spread between officials
    assert stats.overdispersed_z(10, 50, 0.6, 0.0) < 0  # below the reference
    assert stats.overdispersed_z(3, 0, 0.5, 0.1) == 0.0
    assert math.isfinite(stats.overdispersed_z(5, 5, 0.0, 0.0))  # a reference of 0 is clamped


def test_overdispersed_z_stays_calm_for_honest_officials_that_differ():
    rng = random.Random(11)
    peaks = []
    for _ in range(2000):  # honest officials: true rates spread by 0.06, ~35 links a week
        n = rng.randint(20, 50)
        rate = min(0.95, max(0.05, rng.gauss(0.6, 0.06)))
        k = sum(rng.random() < rate for _ in range(n))
        peaks.append(stats.overdispersed_z(k, n, 0.6, 0.06))
    assert sum(z >= 3.5 for z in peaks) <= 2  # a normal tail: about 0.5 in 2000


def test_robust_z_uses_the_floor_when_peers_agree():
    assert stats.robust_z(0.9, [0.6] * 8, 0.05) == pytest.approx(6.0)
    assert stats.robust_z(0.6, [0.5, 0.6, 0.7], 0.01) == 0.0


def test_entropy_is_normalised_to_the_scale():
    assert stats.entropy(Counter({10: 25}), 10) == 0.0
    assert stats.entropy(Counter({s: 3 for s in range(1, 11)}), 10) == pytest.approx(1.0)
    assert stats.entropy(Counter({9: 5, 10: 5}), 10) == pytest.approx(1 / math.log2(10))
    assert stats.entropy(Counter(), 10) == 0.0 and stats.entropy(Counter({1: 2}), 1) == 0.0


def exact_tail(k: int, lam: float) -> float:
    return 1 - sum(math.exp(-lam) * lam ** i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize(("k", "lam"), [(1, 0.5), (3, 2.0), (5, 0.4), (10, 3.0), (2, 0.001)])
def test_poisson_tail_matches_the_exact_sum(k, lam):
    assert stats.poisson_tail(k, lam) == pytest.approx(exact_tail(k, lam), rel=1e-6)


def test_poisson_tail_far_out_stays_positive_and_ordered():
    far = stats.poisson_tail(40, 0.5)
    assert 0 < far < 1e-40
    assert stats.poisson_tail(41, 0.5) < far < stats.poisson_tail(39, 0.5)
    assert stats.poisson_tail(0, 3.0) == 1.0 and stats.poisson_tail(2, 0.0) == 0.0


@pytest.mark.parametrize(("address", "network"), [
    ("203.0.113.77", "203.0.113.0/24"), (" 203.0.113.1 ", "203.0.113.0/24"),
    ("2408:8456:3e10:1234::9", "2408:8456:3e10::/48"), ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("not an address", None), ("", None), (None, None)])
def test_network_ranges_are_24_and_48(address, network):
    assert ranges.network_range(address) == network


OCTETS = st.one_of(st.integers(0, 300).map(str), st.sampled_from(
    ["00", "01", "007", "255", "256", "1000", "", " ", "+1", "-1", "١", "²", "0x1", "1e2"]))


@given(st.lists(OCTETS, min_size=3, max_size=5).map(".".join))
def test_the_quick_ipv4_path_reads_addresses_as_ipaddress_does(address):
    assert ranges.network_range(address) == ranges.parsed_range(address)


KEYS = ["stamp-key-new-0123456789abcdef", "stamp-key-old-0123456789abcdef"]


def test_a_stamp_proves_when_its_own_link_was_opened():
    codec = stamps.StampCodec(KEYS)
    stamp = codec.issue("TOKEN-A", NOW)
    check = codec.check(stamp, "TOKEN-A", NOW + timedelta(seconds=42))
    assert check.stamped and check.seconds == 42
    assert codec.check(stamp, "TOKEN-B", NOW).verdict == stamps.OTHER_LINK


def test_missing_forged_expired_and_future_stamps_are_not_stamped():
    codec = stamps.StampCodec(KEYS)
    stamp = codec.issue("TOKEN-A", NOW)
    payload, _, signature = stamp.rpartition(".")
    other_key = stamps.StampCodec(["someone-elses-key-0123456789"]).issue("TOKEN-A", NOW)
    cases = {None: stamps.MISSING, "": stamps.MISSING, "garbage": stamps.FORGED,
             stamp[:-2] + ("AA" if stamp[-2:] != "AA" else "BB"): stamps.FORGED,
             other_key: stamps.FORGED, "x" * 500: stamps.FORGED,
             f"{payload}x.{signature}": stamps.FORGED}
    for presented, verdict in cases.items():
        check = codec.check(presented, "TOKEN-A", NOW + timedelta(seconds=30))
        assert (check.verdict, check.stamped, check.seconds) == (verdict, False, None), presented
    late = NOW + timedelta(seconds=stamps.MAX_AGE_SECONDS + 1)
    assert codec.check(stamp, "TOKEN-A", late).verdict == stamps.EXPIRED
    early = NOW - timedelta(minutes=5)  # a stamp from the future was not made by this clock
    assert codec.check(stamp, "TOKEN-A", early).verdict == stamps.FORGED


def test_a_stamp_with_a_rewritten_time_fails_its_signature():
    import base64
    import json

    codec = stamps.StampCodec(KEYS)
    payload, _, signature = codec.issue("TOKEN-A", NOW).rpartition(".")
    opened, digest = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    earlier = base64.urlsafe_b64encode(json.dumps([opened - 600, digest]).encode()).decode()
    forged = f"{earlier.rstrip('=')}.{signature}"
    assert codec.check(forged, "TOKEN-A", NOW).verdict == stamps.FORGED


def test_stamps_survive_key_rotation():
    old = stamps.StampCodec(KEYS[1:]).issue("TOKEN-A", NOW)
    assert stamps.StampCodec(KEYS).check(old, "TOKEN-A", NOW).stamped
    new = stamps.StampCodec(KEYS).issue("TOKEN-A", NOW)
    assert not stamps.StampCodec(KEYS[1:]).check(new, "TOKEN-A", NOW).stamped
    with pytest.raises(ValueError):
        stamps.StampCodec([])


def test_scheme_thresholds_are_validated_naming_the_key():
    assert settings.from_scheme(None) == settings.FraudSettings()
    built = settings.from_scheme({"peer_z": 4, "cluster_p": 0.001, "min_links": 20})
    assert (built.peer_z, built.cluster_p, built.min_links) == (4.0, 0.001, 20)
    bad = {"fraud": ("not a mapping", "须为映射"), "fraud.nonsense": ({"nonsense": 1}, "未知"),
           "fraud.peer_z": ({"peer_z": "high"}, "须为数字"),
           "fraud.min_links": ({"min_links": 2.5}, "整数"),
           "fraud.cluster_p": ({"cluster_p": 1.5}, "0 到 1"),
           "fraud.own_z": ({"own_z": -1.0}, "正数"), "fraud.fast_min": ({"fast_min": True}, "数字")}
    for path, (section, reason) in bad.items():
        with pytest.raises(settings.FraudSettingsError) as caught:
            settings.from_scheme(section)
        assert caught.value.path == path and reason in caught.value.reason


def test_deployment_settings_override_the_scheme():
    built = settings.FraudSettings.from_config({"FRAUD_PEER_Z": "5"}, environ={},
                                               scheme={"peer_z": 4, "own_z": 2.5})
    assert (built.peer_z, built.own_z) == (5.0, 2.5)
