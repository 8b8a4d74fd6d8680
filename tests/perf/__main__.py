"""`python -m tests.perf [--only NAME] [--quick]`: run the benchmarks, write the report."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

from tests.perf import report

HERE = Path(__file__).resolve().parent


def run_one(name: str, quick: bool) -> list[report.Result]:
    """Run one bench module; a failure becomes an ERROR row instead of ending the run."""
    try:
        module = importlib.import_module(f"tests.perf.{name}")
        return list(module.run(quick=quick))
    except Exception as exc:
        traceback.print_exc()
        print(f"   {name} did not complete; the report marks it ERROR", flush=True)
        return [report.failure(name.removeprefix("bench_"), exc)]


def main(argv: list[str] | None = None) -> int:
    """Run each bench_*.py module's run() and write bench-report/report.{json,md}."""
    parser = argparse.ArgumentParser(prog="python -m tests.perf")
    parser.add_argument("--only", action="append", default=[], help="bench module name part")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--out", default="bench-report")
    args = parser.parse_args(argv)
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                   if m.name.startswith("bench_"))
    names = [n for n in names if not args.only or any(o in n for o in args.only)]
    results: list[report.Result] = []
    for name in names:
        print(f"== {name}", flush=True)
        results.extend(run_one(name, args.quick))
    print(report.write(results, Path(args.out)))
    unmet = sorted({r.benchmark for r in results if r.met is False})
    if unmet:
        print(f"targets not met (see the report): {', '.join(unmet)}")
    # A target not met is a finding the report states; only a benchmark that could not run
    # makes the command fail.
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
