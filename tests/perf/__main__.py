"""`python -m tests.perf [--only NAME] [--quick | --smoke] [--ratings N] [--functions N]`.

Runs the benchmarks and writes the report.

--quick: smaller sizes and fewer repetitions. --smoke: the smallest setup of each benchmark
for about a second, to check it still runs against the current schema (figures meaningless;
tests/integration/test_bench_smoke.py runs it in `make test`). --ratings N: the size of the
benchmarks that take one (ledger_verify). --functions N: submission_profile also lists the N
costliest functions of each layer.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import traceback
from pathlib import Path

from tests.perf import report

HERE = Path(__file__).resolve().parent


def bench_names(only: list[str] | None = None) -> list[str]:
    """Return the bench modules' names, those containing one of `only` if given."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                   if m.name.startswith("bench_"))
    return [n for n in names if not only or any(o in n for o in only)]


def call_run(module, **options) -> list[report.Result]:
    """Call a bench module's run() with the options it takes; --smoke it must take."""
    accepted = inspect.signature(module.run).parameters
    if options.get("smoke") and "smoke" not in accepted:
        raise RuntimeError(f"{module.__name__} has no smoke mode (run(smoke=True))")
    given = {k: v for k, v in options.items() if k in accepted and v is not None}
    return list(module.run(**given))


def run_one(name: str, quick: bool, **options) -> list[report.Result]:
    """Run one bench module; a failure becomes an ERROR row instead of ending the run."""
    try:
        module = importlib.import_module(f"tests.perf.{name}")
        return call_run(module, quick=quick, **options)
    except Exception as exc:
        traceback.print_exc()
        print(f"   {name} did not complete; the report marks it ERROR", flush=True)
        return [report.failure(name.removeprefix("bench_"), exc)]


def main(argv: list[str] | None = None) -> int:
    """Run each bench_*.py module's run() and write bench-report/report.{json,md}."""
    parser = argparse.ArgumentParser(prog="python -m tests.perf")
    parser.add_argument("--only", action="append", default=[], help="bench module name part")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--smoke", action="store_true",
                        help="smallest sizes, about a second each: does every bench still run?")
    parser.add_argument("--ratings", type=int, default=None,
                        help="ratings to generate, for benchmarks that take a size")
    parser.add_argument("--functions", type=int, default=None,
                        help="submission_profile: list each layer's N costliest functions")
    parser.add_argument("--out", default="bench-report")
    args = parser.parse_args(argv)
    names = bench_names(args.only)
    if not names:
        parser.error(f"no benchmark matches {args.only}; there are: "
                     f"{', '.join(n.removeprefix('bench_') for n in bench_names())}")
    results: list[report.Result] = []
    for name in names:
        print(f"== {name}", flush=True)
        results.extend(run_one(name, args.quick, smoke=args.smoke or None,
                               ratings=args.ratings, functions=args.functions))
    print(report.write(results, Path(args.out)))
    unmet = sorted({r.benchmark for r in results if r.met is False})
    if unmet:
        print(f"targets not met (see the report): {', '.join(unmet)}")
    # A target not met is a finding the report states; only a benchmark that could not run
    # makes the command fail.
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
