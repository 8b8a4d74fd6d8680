"""Prometheus metrics: request counts and latency by endpoint, per application."""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The metric objects of one application (a registry each, so tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ssp_http_requests_total", "HTTP requests",
                                ["method", "endpoint", "status"], registry=self.registry)
        self.latency = Histogram("ssp_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "endpoint"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)

    def exposition(self) -> bytes:
        """Render every metric, merging gunicorn workers in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)


def init_app(app: Flask) -> None:
    """Attach request instrumentation and the /metrics endpoint."""
    metrics = Metrics()
    app.extensions["metrics"] = metrics

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
