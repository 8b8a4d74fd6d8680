"""Benchmark results and the JSON and Markdown report."""

from __future__ import annotations

import json
import os
import platform
import statistics
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
        baseline = f"{r.baseline:,.1f} ({r.baseline_label})" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        lines.append(f"| {r.benchmark} | {r.metric} | {r.value:,.1f} {r.unit} | {baseline} | "
                     f"{ratio} | {r.target} | {met} |")
    return "\n".join(lines) + "\n"


def write(results: list[Result], folder: Path) -> str:
    """Write report.json and report.md; return the Markdown."""
    info = machine()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(
        {"machine": info, "results": [asdict(r) for r in results]}, indent=2,
        ensure_ascii=False))
    text = markdown(results, info)
    (folder / "report.md").write_text(text)
    return text
