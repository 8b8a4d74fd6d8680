"""Benchmark results and the JSON and Markdown report."""

from __future__ import annotations

import json
import os
import platform
import statistics
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Result:
    """One measured figure, with its same-run baseline and target."""

    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    samples: list[float] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class Target:
    """A target of the benchmark issue; the rows deciding it have a `target` with `prefix`."""

    benchmark: str
    text: str
    prefix: str


# Every target the issue sets, so the report names each one even when its benchmark did not
# run or failed.
TARGETS = (
    Target("submission", "ratings/s >= 0.8 of a Flask endpoint doing only the SQL", ">= 0.8"),
    Target("submission", "submission p99 < 100 ms", "< 100 ms"),
    Target("ingestion", "ingestion >= 3,000 events/s", ">= 3000"),
    Target("publication", "publication < 10 s at 10 M ratings, <= 1.5x the 1 M time", "< 10 s"),
    Target("push", "push relay >= 500 deliveries/s", ">= 500"),
    Target("slips", "500 ballot slips < 10 s", "500 slips"),
    Target("console", "every console page < 300 ms", "p95 < 300"),
    Target("memory", "a web worker < 200 MB resident", "< 200 MB"),
    Target("fraud", "recall >= 90% of stuffing officials in every variant", ">= 90%"),
    Target("fraud", "false flags < 1% of organic ratings", "< 1%"),
    Target("fraud", "false flags < 5% of honest officials", "< 5%"),
    Target("release", "release job >= 2,000 ratings/s", ">= 2000"),
    Target("ledger_verify", "ledger verify < 5 minutes at 10 M ratings", "< 300 s"),
    Target("ledger_verify", "ledger verify < 500 MB at 10 M ratings", "< 500 MB"),
)


def failure(benchmark: str, exc: BaseException) -> Result:
    """Return the row of a benchmark that raised instead of measuring."""
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return Result(benchmark, "did not complete", 0.0, "", error=last[:300])


def status(target: Target, results: list[Result]) -> str:
    """Tell whether a target was met: yes, NO, ERROR or NOT RUN."""
    ran = [r for r in results if r.benchmark == target.benchmark]
    if any(r.error for r in ran):
        return "ERROR"
    judged = [r.met for r in ran if r.met is not None and r.target.startswith(target.prefix)]
    if not judged:
        return "NOT RUN"
    return "yes" if all(judged) else "NO"


def median(values: list[float]) -> float:
    """Return the median of samples."""
    return statistics.median(values)


def machine() -> dict:
    """Describe the machine the benchmarks ran on."""
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            memory = handle.readline().split(":")[1].strip()
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "memory": memory,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}


def markdown(results: list[Result], info: dict) -> str:
    """Render results as a Markdown table."""
    lines = [f"Benchmarks on {info['cpus']} CPUs, {info['memory']}, Python {info['python']}, "
             f"{info['at']} (medians).", "",
             "| benchmark | metric | value | baseline | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.benchmark} | {r.metric}: {cell(r.error)} |  |  |  |  | ERROR |")
            continue
        baseline = f"{r.baseline:,.1f} ({r.baseline_label})" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        lines.append(f"| {r.benchmark} | {r.metric} | {r.value:,.1f} {r.unit} | {baseline} | "
                     f"{ratio} | {r.target} | {met} |")
    lines += ["", "Targets of the benchmark issue:", "", "| target | benchmark | met |",
              "|---|---|---|"]
    lines += [f"| {t.text} | {t.benchmark} | {status(t, results)} |" for t in TARGETS]
    return "\n".join(lines) + "\n"


def cell(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def write(results: list[Result], folder: Path) -> str:
    """Write report.json and report.md; return the Markdown."""
    info = machine()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(
        {"machine": info, "results": [asdict(r) for r in results],
         "targets": [{**asdict(t), "met": status(t, results)} for t in TARGETS]}, indent=2,
        ensure_ascii=False))
    text = markdown(results, info)
    (folder / "report.md").write_text(text)
    return text
