"""`python -m workers`: an RQ worker on every queue, with the scheduler, in an app context."""

from __future__ import annotations

import argparse
import logging
import sys

from rq import SimpleWorker, Worker

from backend.app import create_app
from backend.extensions import redis_connection
from workers.jobs import use_app
from workers.queues import QUEUES


def main(argv: list[str] | None = None) -> int:
    """Run a worker until stopped (or until the queues are empty with --burst)."""
    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs without forking")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    app = create_app()
    connection = redis_connection(app)
    if connection is None:
        print("REDIS_URL 未设置：嵌入模式下任务在 Web 进程内运行，无需单独的 worker。",
              file=sys.stderr)
        return 2
    use_app(app)
    worker_class = SimpleWorker if args.simple else Worker
    with app.app_context():
        worker = worker_class(list(QUEUES), connection=connection, name=args.name)
        worker.work(burst=args.burst, with_scheduler=True,
                    logging_level=app.config.get("LOG_LEVEL", "INFO"))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
