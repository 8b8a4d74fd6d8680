"""`python -m workers.cron`: the periodic-job process (several may run: slots are claimed once)."""

from __future__ import annotations

import signal
import threading

from backend.app import create_app
from workers.cron import run_forever


def main() -> None:
    """Run the periodic-job loop until SIGTERM or SIGINT."""
    app = create_app()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_forever(app, stop)


if __name__ == "__main__":
    main()
