"""随时评 (Suishiping): a Flask survey platform. The application factory is `backend.app`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """Offer `backend.create_app` (what `FLASK_APP=backend` and gunicorn look for)."""
    if name == "create_app":
        # Deferred: the factory imports every part of the app; importing one part must not.
        from backend.app import create_app

        return create_app
    raise AttributeError(f"module 'backend' has no attribute {name!r}")
