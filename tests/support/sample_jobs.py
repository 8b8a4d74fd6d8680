"""Jobs used by the queue tests; importable by a real worker process."""

from pathlib import Path


def append_line(path: str, text: str) -> None:
    """Append one line to a file."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def fail_then_append(path: str, text: str, failures: int) -> None:
    """Fail `failures` times (counted in a side file), then append the line."""
    attempts = Path(path + ".attempts")
    seen = int(attempts.read_text()) if attempts.exists() else 0
    attempts.write_text(str(seen + 1))
    if seen < failures:
        raise RuntimeError(f"planned failure {seen + 1} of {failures}")
    append_line(path, text)


def record_database_dialect(path: str) -> None:
    """Write the dialect of the app's database, proving the job ran in an app context."""
    from backend.extensions import db

    append_line(path, db.engine.dialect.name)


def count_tick() -> None:
    """Count runs in the app's extensions (for periodic-job tests)."""
    from flask import current_app

    current_app.extensions["ticks"] = current_app.extensions.get("ticks", 0) + 1
