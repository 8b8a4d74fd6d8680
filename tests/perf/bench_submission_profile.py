"""Where a submission's CPU goes: the real endpoint against the bare-SQL endpoint, by layer.

`make bench BENCH_ARGS="--only submission_profile"`. In one process, on PostgreSQL with the
rate limits in real Redis, N event ratings are submitted through the test client to the real
`POST /api/v1/invitations/{token}/rating` and N to the Flask endpoint doing only its SQL
(tests/perf/bare_submission.py). Reported: CPU time per request of each (time.process_time,
which the machine's other work inflates less than elapsed time; the two endpoints are timed
in alternating rounds, medians compared) and their ratio;
then CPU profiles (cProfile timed by process_time) of N more of each, their time summed by
layer (rate limiting, the API framework, Flask and Werkzeug, the database driver, Redis, the
product's own code by package; the standard library's charged to the layer calling it), in
ms per request, and the difference per layer: where the real endpoint's extra time goes.
The test client's own work is in both and cancels out in the difference.
The database server's CPU is in neither figure: it is the same SQL for both.
The profile's own overhead inflates every layer alike; the shares are what to read.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import time
from collections import Counter

from tests.perf import bare_submission
from tests.perf.bench_submission import KEYS, SEAL_KEYS, issue_tokens, paths_for, redis_url
from tests.perf.report import Result
from tests.perf.support import bench_app, fresh_database

FULL, QUICK, SMOKE = 2000, 600, 10
ROUNDS = 5  # the timed requests of each endpoint, in alternating rounds
BODY = {"score": 8, "tags": ["热情周到"]}
# Layers by where a function lives: first match wins, so the product's packages come first.
LAYERS = (
    ("/backend/services/", "product: services"), ("/backend/storage/", "product: storage"),
    ("/backend/observability/", "product: logging and metrics"),
    ("/backend/web/", "product: security headers, CSRF"), ("/backend/", "product: other"),
    ("/flask_limiter/", "rate limiting (Flask-Limiter, limits)"),
    ("/limits/", "rate limiting (Flask-Limiter, limits)"),
    ("/flask_smorest/", "API framework (flask-smorest, webargs, marshmallow)"),
    ("/webargs/", "API framework (flask-smorest, webargs, marshmallow)"),
    ("/marshmallow/", "API framework (flask-smorest, webargs, marshmallow)"),
    ("/redis/", "Redis client"), ("/psycopg", "database driver (psycopg)"),
    ("/sqlalchemy/", "SQLAlchemy (pool, session)"),
    ("/flask_sqlalchemy/", "SQLAlchemy (pool, session)"),
    ("/cryptography/", "sealing (AES-GCM)"), ("/prometheus_client/", "metrics (prometheus_client)"),
    ("/flask/", "Flask and Werkzeug"), ("/werkzeug/", "Flask and Werkzeug"),
    ("/flask_wtf/", "Flask and Werkzeug"),
)


STDLIB = "standard library and built-ins"


def layer_of(filename: str) -> str:
    """Return the layer a function's file belongs to."""
    for part, name in LAYERS:
        if part in filename:
            return name
    return STDLIB


def charged(stats: dict, by_function: bool = False) -> Counter:
    """Return self time by layer, the standard library's charged to the layers calling it.

    With `by_function`, keyed by (layer, function) instead: a standard-library function's
    time appears under each layer it was charged to, under its own name.

    A socket write or a JSON encoding belongs to whoever asked for it: the self time of a
    standard-library function is split among its callers in proportion to the time each
    call accounted for, up the call graph to the first caller in a named layer.
    """
    layers: Counter = Counter()
    memo: dict = {}

    def shares(func, seen: frozenset) -> Counter:
        """Return how one second of `func`'s self time divides among layers."""
        if func in memo:
            return memo[func]
        layer = layer_of(func[0])
        callers = stats[func][4]
        if layer != STDLIB or not callers or func in seen:
            memo[func] = Counter({layer: 1.0})
            return memo[func]
        weights = {caller: max(timing[3], timing[2], 1e-12) for caller, timing in callers.items()
                   if caller in stats}
        total = sum(weights.values()) or 1.0
        out: Counter = Counter()
        for caller, weight in weights.items():
            for name, part in shares(caller, seen | {func}).items():
                out[name] += part * weight / total
        memo[func] = out or Counter({STDLIB: 1.0})
        return memo[func]

    for func, (_, _, self_time, _, _) in stats.items():
        for name, part in shares(func, frozenset()).items():
            layers[(name, func) if by_function else name] += self_time * part
    return layers


def cpu_per_request(client, paths: list[str]) -> float:
    """Submit through each path; return the CPU milliseconds per request."""
    started = time.process_time()
    for path in paths:
        response = client.post(path, json=BODY)
        assert response.status_code == 201, (response.status_code, response.get_data(True))
    return (time.process_time() - started) / len(paths) * 1000


def alternating(client, paths: list[str], bare, bare_paths: list[str]) -> tuple[float, float]:
    """Time both endpoints in ROUNDS alternating rounds; return the median of each.

    Other work on the machine slows whichever runs beside it: alternating, both endpoints
    see the same spells of contention, and the medians are compared.
    """
    step = max(1, len(paths) // ROUNDS)
    app_ms, bare_ms = [], []
    for start in range(0, len(paths), step):
        app_ms.append(cpu_per_request(client, paths[start:start + step]))
        bare_ms.append(cpu_per_request(bare, bare_paths[start:start + step]))
    return statistics.median(app_ms), statistics.median(bare_ms)


def profile(client, paths: list[str]) -> dict:
    """Profile submissions through `paths`; return the raw pstats table."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for path in paths:
        client.post(path, json=BODY)
    profiler.disable()
    return pstats.Stats(profiler).stats


def per_request(stats: dict, count: int, by_function: bool = False) -> Counter:
    """Return CPU ms per request by layer (or by layer and function) of a profile."""
    return Counter({name: seconds * 1000 / count
                    for name, seconds in charged(stats, by_function).items()})


def function_name(func: tuple) -> str:
    """Name a profiled function as file:line(name), the file from its package on."""
    filename, line, name = func
    for marker in ("site-packages/", "/backend/", "/tests/", "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def print_functions(stats: dict, count: int, top: int, floor_ms: float = 0.01) -> None:
    """Print each layer's `top` costliest functions (self time, ms per request)."""
    rows = per_request(stats, count, by_function=True)
    for layer, total in per_request(stats, count).most_common():
        mine = sorted(((ms, func) for (name, func), ms in rows.items() if name == layer),
                      reverse=True)
        shown = [(ms, func) for ms, func in mine[:top] if ms >= floor_ms]
        print(f"     {layer}: {total:.3f} ms", flush=True)
        for ms, func in shown:
            print(f"       {ms:7.3f}  {function_name(func)}", flush=True)
        rest = total - sum(ms for ms, _ in shown)
        if len(mine) > len(shown):
            print(f"       {rest:7.3f}  {len(mine) - len(shown)} other functions", flush=True)


def print_steps(stats: dict, bare_stats: dict, count: int, top: int) -> None:
    """Print the costliest functions only the real endpoint calls, by cumulative time.

    Their times nest (a view includes what it calls), so they are read as steps of the
    request, not summed: the limit's count, the body's parsing, each hook, the service.
    """
    steps = sorted(((timing[3] * 1000 / count, func) for func, timing in stats.items()
                    if func not in bare_stats and not func[0].startswith("~")), reverse=True)
    for ms, func in steps[:top]:
        print(f"       {ms:7.3f}  {function_name(func)}", flush=True)


def run(quick: bool = False, smoke: bool = False, functions: int | None = None) -> list[Result]:
    """Measure CPU per submission against the bare endpoint and profile it by layer.

    With `functions` (--functions N), each layer of the real endpoint's profile is also listed
    by its N costliest functions, and the 4N costliest steps only the real endpoint takes by
    cumulative time: where every tenth of a millisecond goes.
    """
    n = SMOKE if smoke else QUICK if quick else FULL
    with fresh_database("ssp_bench_profile") as url:
        app = bench_app(url, PUBLIC_BASE_URL="http://127.0.0.1", SECRET_KEYS=[KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS], REDIS_URL=redis_url(),
                        RATELIMIT_STORAGE_URI=redis_url(), RATELIMIT_PUBLIC="100000000/minute",
                        LOG_LEVEL="WARNING", TESTING=False)
        # Thirds: the bare endpoint's, a spare third, the app's (warm-up, timed, profiled).
        paths = paths_for(issue_tokens(app, 3 * (3 * n + 50)))
        os.environ["BARE_DSN"] = url.replace("postgresql+psycopg", "postgresql")
        client, bare = app.test_client(), bare_submission.flask_app.test_client()
        warm = paths["app"][:50]
        cpu_per_request(client, warm)
        cpu_per_request(bare, paths["flask"][:50])
        app_ms, bare_ms = alternating(client, paths["app"][50:50 + n],
                                      bare, paths["flask"][50:50 + n])
        app_stats = profile(client, paths["app"][50 + n:50 + 2 * n])
        bare_stats = profile(bare, paths["flask"][50 + n:50 + 2 * n])
        layers, bare_layers = per_request(app_stats, n), per_request(bare_stats, n)
        bare_submission.connection().close()
        bare_submission._local.conn = None
        from backend.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    print(f"   CPU per submission {app_ms:.3f} ms, bare-SQL endpoint {bare_ms:.3f} ms "
          f"(ratio {bare_ms / app_ms:.2f}); profiled CPU per request by layer, the real "
          "endpoint, the bare one and what the real one costs more:", flush=True)
    gaps = Counter({name: layers[name] - bare_layers[name] for name in layers | bare_layers})
    for name, gap in gaps.most_common():
        print(f"     {layers[name]:7.3f}  {bare_layers[name]:7.3f}  {gap:+7.3f} ms  {name}",
              flush=True)
    if functions:
        print(f"   the real endpoint by layer and function (ms per request, top {functions}):",
              flush=True)
        print_functions(app_stats, n, functions)
        print(f"   the bare endpoint (top {functions}):", flush=True)
        print_functions(bare_stats, n, functions)
        print(f"   steps only the real endpoint takes, cumulative ms per request (nested; top "
              f"{4 * functions}):", flush=True)
        print_steps(app_stats, bare_stats, n, 4 * functions)
    return [
        Result("submission_profile", f"CPU per submission, in process ({n} requests)", app_ms,
               "ms", baseline=bare_ms, baseline_label="bare-SQL Flask endpoint, CPU ms",
               ratio=bare_ms / app_ms),
        *(Result("submission_profile", f"profiled CPU beyond the bare endpoint: {name}", gap,
                 "ms/request", baseline=bare_layers[name],
                 baseline_label="the bare endpoint's, ms/request")
          for name, gap in gaps.most_common()),
    ]
