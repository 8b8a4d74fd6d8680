"""Job functions: small, importable, taking ids; grouped by domain in submodules.

Every job is enqueued as `execute("module:function", *args)` so that the same entry point
gives it an application context under RQ and in embedded mode.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from rq import get_current_job

from backend.extensions import db
from backend.observability.logs import bound, current_request_id, job_id_var

log = logging.getLogger(__name__)
_state: dict[str, Any] = {"app": None, "pid": None, "factory": None}


def job_path(func: Callable | str) -> str:
    """Return the importable "module:function" name of a job."""
    if isinstance(func, str):
        return func
    return f"{func.__module__}:{func.__qualname__}"


def resolve(path: str) -> Callable:
    """Import a job function from its "module:function" name."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def worker_app():
    """Return the app of this worker process, safe to use after RQ forks a child."""
    if _state["app"] is None:
        if _state["factory"] is None:
            raise RuntimeError("no application factory: the backend package registers it on import")
        _state["app"], _state["pid"] = _state["factory"](), os.getpid()
    elif _state["pid"] != os.getpid():
        with _state["app"].app_context():
            db.engine.dispose(close=False)  # never share the parent's sockets with a fork
        _state["pid"] = os.getpid()
    return _state["app"]


def use_factory(factory: Callable[[], Any]) -> None:
    """Name the factory a worker process builds its app with (backend registers create_app).

    The factory imports the scheduler and this package; registering it, rather than importing
    it here, keeps the import graph one-way. Resolving any job imports `backend` first.
    """
    _state["factory"] = factory


def use_app(app) -> None:
    """Make `app` the one jobs of this process run in (the worker entry point calls this)."""
    _state["app"], _state["pid"] = app, os.getpid()


def log_context() -> tuple[str | None, str | None]:
    """Return the (request id, job id) of the running RQ job, else those already bound."""
    job = get_current_job()
    if job is None:  # embedded mode: the queue has bound them
        return current_request_id(), job_id_var.get()
    return (job.meta or {}).get("request_id"), job.id


def execute(path: str, *args: Any) -> Any:
    """Run a job inside an application context; exceptions propagate so the job is retried."""
    func = resolve(path)
    app = current_app._get_current_object() if has_app_context() else worker_app()
    with app.app_context(), bound(*log_context()):  # a fresh context: its own db session
        return func(*args)
