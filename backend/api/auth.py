"""Bearer-key authentication for machine clients, with scopes."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from backend.errors import Forbidden, Unauthorized
from backend.extensions import db
from backend.services.accounts import api_clients

BEARER_SECURITY = [{"bearerAuth": []}]


def bearer_token() -> str | None:
    """Return the bearer token of the current request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_scope(scope: str) -> Callable:
    """Decorate a view so it needs an active API key carrying `scope`."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            if token is None:
                raise Unauthorized("缺少访问密钥：请在 Authorization 头中提供 Bearer 密钥")
            client = api_clients.authenticate(db.session, token)
            if scope not in client.scope_set:
                raise Forbidden(f"该密钥缺少权限范围 {scope}")
            g.api_client = client
            return view(*args, **kwargs)

        return wrapper

    return decorator
