"""Prometheus metrics: requests, business counters, and gauges read at scrape time.

Counters and histograms live in a registry per application (tests build many apps). Under
gunicorn (PROMETHEUS_MULTIPROC_DIR set) each worker writes them to files and /metrics sums the
files of all workers; collectors that read the database or Redis at scrape time are not in the
files, so `exposition()` adds them to the merged view.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase
from rq import Queue
from sqlalchemy import func, select

from backend.extensions import db, redis_connection
from backend.models import Delivery
from backend.models.alerts import OPEN, Alert
from backend.models.outbox import FAILED, PENDING
from backend.services.invitations.events import Result
from workers.queues import QUEUES

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DELIVERY_CHANNELS = ("sms", "wechat")  # always exported, zero included, so series never vanish


class AppRegistry(CollectorRegistry):
    """A registry that remembers which collectors are read at scrape time."""

    def __init__(self) -> None:
        super().__init__()
        self.scrape_time: list = []

    def register(self, collector) -> None:
        """Register a collector; keep custom (non-metric) collectors aside as well."""
        super().register(collector)
        if not isinstance(collector, MetricWrapperBase):
            self.scrape_time.append(collector)

    def unregister(self, collector) -> None:
        """Unregister a collector."""
        super().unregister(collector)
        if collector in self.scrape_time:
            self.scrape_time.remove(collector)


class MergedView:
    """The multiprocess totals plus this app's scrape-time collectors, as one collector."""

    def __init__(self, collectors: Sequence) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        """Yield every metric of every collector."""
        for collector in self.collectors:
            yield from collector.collect()


class Metrics:
    """The metric objects of one application (a registry each, so tests can build many apps)."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = AppRegistry()
        self.requests = Counter("ssp_http_requests_total", "HTTP requests",
                                ["method", "endpoint", "status"], registry=self.registry)
        self.latency = Histogram("ssp_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "endpoint"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.invitations = Counter("ssp_invitations_issued_total",
                                   "Invitations issued, per requested channel",
                                   ["channel", "throttled"], registry=self.registry)
        self.ratings = Counter("ssp_ratings_accepted_total", "Ratings accepted",
                               ["kind"], registry=self.registry)

    def exposition(self) -> bytes:
        """Render every metric, merging gunicorn workers in multiprocess mode."""
        directory = self.multiprocess_dir
        if not directory:
            return generate_latest(self.registry)
        files = CollectorRegistry()
        multiprocess.MultiProcessCollector(files, path=directory)
        return generate_latest(MergedView([files, *self.registry.scrape_time]))

    def count_invitations(self, items: Iterable, outcomes: Iterable) -> None:
        """Count the invitations of newly accepted events (201), once per requested channel."""
        for item, outcome in zip(items, outcomes, strict=False):
            if outcome.result is not Result.CREATED or not outcome.body:
                continue
            throttled = "true" if outcome.body.get("throttled") else "false"
            for channel in item.channels or ("none",):
                self.invitations.labels(channel, throttled).inc()

    def count_rating(self, kind: str) -> None:
        """Count one accepted rating submission ("event" or "ballot")."""
        self.ratings.labels(kind).inc()


# --- gauges read at scrape time -----------------------------------------------------------
class DatabaseCollector:
    """Delivery outbox depth, failed deliveries and open alerts, read from the database."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list:
        """Describe nothing up front, so registering never queries the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges; nothing when the database cannot be read."""

        try:
            with self.app.app_context():
                rows = database_counts(db.session)
                db.session.rollback()
        except Exception as exc:
            log.warning("metrics: database unreadable: %s", str(exc).splitlines()[0])
            return
        yield from database_metrics(*rows)


def database_counts(session) -> tuple[list, list, list]:
    """Return (channel, n) of pending and of failed deliveries, and (type, n) of open alerts."""

    def by_channel(status: str) -> list:
        return list(session.execute(select(Delivery.channel, func.count())
                                    .where(Delivery.status == status)
                                    .group_by(Delivery.channel)))

    alerts = list(session.execute(select(Alert.type, func.count()).where(Alert.state == OPEN)
                                  .group_by(Alert.type)))
    return by_channel(PENDING), by_channel(FAILED), alerts


def with_zeros(counts: list) -> list[tuple[str, int]]:
    """Return (channel, count) rows with a zero row for every known channel missing."""
    found = {channel: count for channel, count in counts}
    return sorted({**dict.fromkeys(DELIVERY_CHANNELS, 0), **found}.items())


def database_metrics(pending: list, failed: list, alerts: list) -> Iterator[Metric]:
    """Build the metric families of the database counts."""
    depth = GaugeMetricFamily("ssp_delivery_outbox_messages",
                              "Deliveries waiting to be sent (pending), by channel",
                              labels=["channel", "status"])
    for channel, count in with_zeros(pending):
        depth.add_metric([channel, "pending"], count)
    yield depth
    # Delivery rows are never deleted (only their contacts are purged): a true counter.
    failures = CounterMetricFamily("ssp_deliveries_failed", "Deliveries that failed for good",
                                   labels=["channel"])
    for channel, count in with_zeros(failed):
        failures.add_metric([channel], count)
    yield failures
    open_alerts = GaugeMetricFamily("ssp_alerts_open", "Open alerts by type", labels=["type"])
    for alert_type, count in alerts:
        open_alerts.add_metric([alert_type], count)
    yield open_alerts


class QueueCollector:
    """RQ queue depth from Redis: queued, scheduled, started and failed jobs per queue."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list:
        """Describe nothing up front, so registering never connects to Redis."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the queue gauge; nothing in embedded mode or when Redis cannot be read."""

        connection = redis_connection(self.app)
        if connection is None:
            return
        try:
            counts = queue_counts(connection)
        except Exception as exc:
            log.warning("metrics: redis unreadable: %s", exc)
            return
        jobs = GaugeMetricFamily("ssp_queue_jobs", "RQ jobs by queue and state",
                                 labels=["queue", "state"])
        for (queue, state), count in counts.items():
            jobs.add_metric([queue, state], count)
        yield jobs


def queue_counts(connection) -> dict[tuple[str, str], int]:
    """Return the job count of every (queue, state)."""


    counts = {}
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        counts[name, "queued"] = queue.count
        counts[name, "scheduled"] = queue.scheduled_job_registry.count
        counts[name, "started"] = queue.started_job_registry.count
        counts[name, "failed"] = queue.failed_job_registry.count
    return counts


def init_app(app: Flask) -> None:
    """Attach request instrumentation, the scrape-time collectors and the /metrics endpoint."""
    metrics = Metrics(app.config.get("PROMETHEUS_MULTIPROC_DIR"))
    app.extensions["metrics"] = metrics
    metrics.registry.register(DatabaseCollector(app))
    metrics.registry.register(QueueCollector(app))

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.latency.labels(request.method, endpoint).observe(time.perf_counter() - started)
            metrics.requests.labels(request.method, endpoint, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
