"""Gunicorn settings for the 随时评 web process.

    gunicorn -c deploy/gunicorn.conf.py 'backend:create_app()'

Every knob can be set from the environment (defaults in brackets):
    WEB_CONCURRENCY        worker processes [2 x CPUs + 1, at most GUNICORN_MAX_WORKERS]
    GUNICORN_MAX_WORKERS   cap of the computed default [8]
    GUNICORN_THREADS       threads per worker (gthread) [4]
    GUNICORN_TIMEOUT       seconds a request may take before its worker is restarted [30]
    GUNICORN_KEEPALIVE     idle keep-alive seconds; above nginx's upstream keepalive_timeout [65]
    FORWARDED_ALLOW_IPS    peers trusted for X-Forwarded-Proto ["*" when TRUSTED_PROXIES > 0]
    LOG_LEVEL              gunicorn's error log level [INFO]
    PROMETHEUS_MULTIPROC_DIR  metrics files shared by the workers [/tmp/prometheus-multiproc]

CPUs are counted from the cgroup CPU quota when there is one (containers), else from the CPUs
this process may run on: os.cpu_count() would report the whole host inside a container.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from gunicorn import glogging
from gunicorn.http import wsgi as _gunicorn_wsgi

from backend.observability.masking import MASKING_FILTER, mask_secrets

# Set before any worker imports prometheus_client (preload is off, so the app and the client
# are imported after fork): the value class is chosen at import time from this variable.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus-multiproc")  # noqa: S108


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def available_cpus() -> int:
    """Return the CPUs this process may use: cgroup v2 quota, else affinity, at least 1."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """Return 2 x CPUs + 1, capped by GUNICORN_MAX_WORKERS."""
    return min(2 * available_cpus() + 1, _env_int("GUNICORN_MAX_WORKERS", 8))


# --- server ---------------------------------------------------------------------------------
wsgi_app = "backend:create_app()"
bind = ["0.0.0.0:8000"]
worker_class = "gthread"
workers = _env_int("WEB_CONCURRENCY", default_workers())
threads = _env_int("GUNICORN_THREADS", 4)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 65)
# Each worker imports the app itself: no state is shared across fork, and a code change is
# picked up by a plain restart of the workers.
preload_app = False
# Worker restarts would leave one metrics file per dead worker behind; keep them off unless
# a leak needs them (then set GUNICORN_MAX_REQUESTS, e.g. 5000).
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Heartbeat files in memory, not on the container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# The runtime control socket would be created under $HOME, which is read-only in the image.
control_socket_disable = True
# Request line and header limits (the body limit is MAX_CONTENT_LENGTH in the app, 2 MiB).
limit_request_line = 8190
limit_request_fields = 100

# --- proxies --------------------------------------------------------------------------------
# The app applies TRUSTED_PROXIES (ProxyFix) to X-Forwarded-For/-Proto/-Host. Gunicorn only
# honours X-Forwarded-Proto, from the peers below; other scheme headers are not consulted, so
# a client cannot contradict the proxy's header.
_trusted_proxies = _env_int("TRUSTED_PROXIES", 0)
forwarded_allow_ips = os.environ.get(
    "FORWARDED_ALLOW_IPS", "*" if _trusted_proxies > 0 else "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# --- no server banner -----------------------------------------------------------------------
# Gunicorn names itself and nothing configures that away: drop its Server header from every
# response (nginx runs with server_tokens off, so no banner reaches a client either way).
def _without_server_banner(default_headers):
    def headers(self):
        return [line for line in default_headers(self) if not line.startswith("Server:")]

    headers.without_banner = True
    return headers


if not getattr(_gunicorn_wsgi.Response.default_headers, "without_banner", False):
    _gunicorn_wsgi.Response.default_headers = _without_server_banner(
        _gunicorn_wsgi.Response.default_headers)

# --- logging --------------------------------------------------------------------------------
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
accesslog = "-"
# One JSON object per line. The path has rating tokens masked and no query string; request_id
# is the app's X-Request-ID, the id its own log lines and the jobs of the request carry.
access_log_format = (
    '{"time": "%(t)s", "remote_addr": "%(h)s", "forwarded_for": "%({x-forwarded-for}i)s", '
    '"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(b)s", '
    '"duration_ms": %(M)s, "referer": "%(f)s", "user_agent": "%(a)s", "pid": "%(p)s", '
    '"request_id": "%({x-request-id}o)s"}'
)

MASKED_ATOMS = frozenset({"r", "U", "f"})  # request line, path, referer: they carry tokens


class JsonSafeAtoms(glogging.SafeAtoms):
    """Atoms read as JSON string content, so a quote or backslash cannot break a line.

    An atom is masked (tokens, receipts, phones) and escaped when the format reads it: a
    request has some fifty atoms (every header and environ entry), the format reads a dozen.
    """

    def __init__(self, atoms):
        dict.__init__(self, atoms)

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if not isinstance(value, str):
            return value
        if key in MASKED_ATOMS:
            value = mask_secrets(value)
        return json.dumps(value, ensure_ascii=False)[1:-1]


class AccessLogger(glogging.Logger):
    """Gunicorn's logger with ISO 8601 times; tokens, receipts and phones masked in access lines."""

    atoms_wrapper_class = JsonSafeAtoms

    def setup(self, cfg) -> None:
        """Mask secrets in gunicorn's own lines too (at DEBUG it logs every request's path)."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(MASKING_FILTER)

    def now(self) -> str:
        return datetime.now().astimezone().isoformat(timespec="milliseconds")

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = "-"
        return atoms


logger_class = AccessLogger


# --- hooks: Prometheus multiprocess metrics -------------------------------------------------
def on_starting(server) -> None:
    """Start from an empty metrics directory: files of a previous run would be counted again."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that exited (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
