"""QR codes of rating links, cold and warm, through the Flask test client.

Cold: the first request for a token's code (its URL is new, so the in-process cache misses
and the code is drawn). Warm: the same request again, answered from the cache (which is per
process: under gunicorn each worker warms its own). Both for PNG
(screens) and SVG (print), medians over many tokens (seeded, so every run draws the same
codes). Baselines, same run and client: cold against the bare `qrcode` library drawing the
same URL (cache bypassed), warm against an empty Flask endpoint.
No target: neither the issue nor the docs set one for QR codes; the figures are reported.
"""

from __future__ import annotations

import random
import time

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database

TOKENS, QUICK_TOKENS, WARM_UP = 400, 120, 10
SEED = 11
KEYS = ["bench-qr-signing-key-0123456789abcdef"]
FORMATS = ("png", "svg")


def raw_tokens(count: int) -> list[str]:
    """Return `count` well-formed raw tokens, the same ones on every run."""
    from backend.services.invitations.tokens import TOKEN_ALPHABET, TOKEN_LENGTH

    rng, alphabet = random.Random(SEED), sorted(TOKEN_ALPHABET)
    return ["".join(rng.choices(alphabet, k=TOKEN_LENGTH)) for _ in range(count)]


def request_ms(client, path: str) -> float:
    """Return the milliseconds of one GET that must answer 200."""
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def draw_ms(fmt: str, url: str) -> float:
    """Return the milliseconds the bare library takes to draw url (no cache)."""
    from backend.services.invitations.qr import qr_png, qr_svg

    draw = (qr_png if fmt == "png" else qr_svg).__wrapped__
    started = time.perf_counter()
    draw(url)
    return (time.perf_counter() - started) * 1000


def measure(app, tokens: list[str]) -> dict[str, list[float]]:
    """Time cold, warm and both baselines per token, interleaved so noise hits all alike."""
    from backend.services.invitations.qr import qr_png, qr_svg
    from backend.wiring import token_codec

    qr_png.cache_clear()
    qr_svg.cache_clear()
    client, base = app.test_client(), app.config["PUBLIC_BASE_URL"]
    with app.app_context():
        codec = token_codec()
    samples: dict[str, list[float]] = {"empty": []}
    for n, raw in enumerate(tokens):
        signed = codec.url_token(raw)
        for fmt in FORMATS:
            path = f"/r/{signed}/qr.{fmt}"
            timings = {f"bare-{fmt}": draw_ms(fmt, base + f"/r/{signed}"),
                       f"cold-{fmt}": request_ms(client, path),
                       f"warm-{fmt}": request_ms(client, path)}
            if n >= WARM_UP:
                for key, value in timings.items():
                    samples.setdefault(key, []).append(value)
        empty = request_ms(client, "/bench-empty")
        if n >= WARM_UP:
            samples["empty"].append(empty)
    return samples


def results_of(samples: dict[str, list[float]], count: int) -> list[Result]:
    """Turn the samples into report rows: cold against bare drawing, warm against empty."""
    rows, empty = [], median(samples["empty"])
    for fmt in FORMATS:
        cold, bare = median(samples[f"cold-{fmt}"]), median(samples[f"bare-{fmt}"])
        warm = median(samples[f"warm-{fmt}"])
        print(f"   {fmt}: cold {cold:.2f} ms (bare draw {bare:.2f}), warm {warm:.2f} ms "
              f"(empty endpoint {empty:.2f})", flush=True)
        rows += [
            Result("qr", f"{fmt.upper()} cold: first request of a new token, median of {count}",
                   cold, "ms", baseline=bare, baseline_label="bare qrcode draw, same URL, ms",
                   ratio=cold / bare, samples=samples[f"cold-{fmt}"]),
            Result("qr", f"{fmt.upper()} warm: the same request again (cached)", warm, "ms",
                   baseline=empty, baseline_label="empty Flask endpoint, ms",
                   ratio=warm / empty, samples=samples[f"warm-{fmt}"]),
        ]
    return rows


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure QR code requests cold and warm against their baselines (smoke: 3 tokens)."""
    from backend.extensions import db

    tokens = raw_tokens((3 if smoke else QUICK_TOKENS if quick else TOKENS) + WARM_UP)
    with fresh_database("ssp_bench_qr") as url:
        app = bench_app(url, SECRET_KEYS=KEYS, LOG_LEVEL="WARNING")
        app.add_url_rule("/bench-empty", "bench_empty", lambda: "")
        samples = measure(app, tokens)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return results_of(samples, len(tokens) - WARM_UP)
