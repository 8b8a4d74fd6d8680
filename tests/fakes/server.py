"""Run a WSGI app as a real HTTP server on 127.0.0.1, and the plumbing the fakes share."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    """Request handler that skips access logs and remembers its connection."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log line; tests assert on recorded state instead."""

    def setup(self) -> None:
        """Track the connection so stop() can cut keep-alive clients off."""
        super().setup()
        self.server.open_connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        """Forget the connection."""
        self.server.open_connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()


class FakeServer:
    """A WSGI app served from a daemon thread; start() again reuses the same port."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0):
        self._app = app
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:<port> (the port is fixed after the first start)."""
        return f"http://{self._host}:{self._port}"

    @property
    def running(self) -> bool:
        """Tell whether the server is accepting connections."""
        return self._server is not None

    def start(self) -> str:
        """Listen and serve in a daemon thread; return the base URL."""
        if self._server is not None:
            return self.base_url
        server = make_server(self._host, self._port, self._app, threaded=True,
                             request_handler=_QuietHandler)
        server.open_connections = set()  # type: ignore[attr-defined]
        self._port = server.socket.getsockname()[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-server-{self._port}", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop listening and drop open connections, so clients see a refused connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in list(server.open_connections):  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass
class Fault:
    """One scripted misbehaviour: answer with an error, a status, after a delay."""

    errcode: int | None = None
    http_status: int | None = None
    delay: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class FaultQueue:
    """Faults waiting to be served, per endpoint, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)

    def add(self, endpoint: str, fault: Fault, count: int = 1) -> None:
        """Queue fault for the next count requests to endpoint."""
        with self._lock:
            self._queues[endpoint].extend([fault] * count)

    def pop(self, endpoint: str) -> Fault | None:
        """Take the next fault for endpoint, if any (a "*" fault matches every endpoint)."""
        with self._lock:
            for name in (endpoint, "*"):
                if self._queues[name]:
                    return self._queues[name].popleft()
        return None

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queues.clear()


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """Build a JSON response that keeps Chinese text readable."""
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    headers=dict(headers or {}), content_type="application/json; charset=utf-8")


class FakeService:
    """Base of the fakes: routing, fault injection, a server of its own, a lock for state."""

    url_map: Map = Map()

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = FaultQueue()
        self.calls: Counter[str] = Counter()
        self._server = FakeServer(self.wsgi_app)
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        """Return the URL the fake listens on."""
        return self._server.base_url

    def start(self) -> str:
        """Start serving (again on the same port after stop()); return the base URL."""
        self._stopping.clear()
        return self._server.start()

    def stop(self) -> None:
        """Stop serving; delayed requests in flight give up."""
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> FakeService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pause(self, seconds: float) -> None:
        """Sleep like a slow upstream; wake early when the server stops."""
        self._stopping.wait(seconds)

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Route and count the request; apply a queued fault, else handle it."""
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            return exc(environ, start_response)
        with self.lock:
            self.calls[endpoint] += 1
        response = self._faulted(endpoint, request) or self.dispatch(endpoint, request, args)
        return response(environ, start_response)

    def _faulted(self, endpoint: str, request: Request) -> Response | None:
        fault = self.faults.pop(endpoint)
        if fault is None:
            return None
        if fault.delay:
            self.pause(fault.delay)
        if fault.errcode is None and fault.http_status is None:
            return None
        return self.fault_response(fault, request)

    def dispatch(self, endpoint: str, request: Request, args: Mapping[str, Any]) -> Response:
        """Call the handler method named after the endpoint."""
        return getattr(self, f"on_{endpoint}")(request, **args)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Answer a scripted fault (subclasses shape the body like the real service)."""
        return json_response({"error": "injected fault"}, fault.http_status or 500, fault.headers)
