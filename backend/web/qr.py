"""QR codes and mini-program codes of rating links, drawn from the signed token alone.

The signature proves we issued the token, so no database lookup is needed (nor made: a
forged token is refused before anything else). A code stays valid as an image even after
its invitation is used or expires; the rating page says so when it is opened.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request

from backend import wiring
from backend.errors import NotFound
from backend.extensions import redis_connection
from backend.http_errors import NOT_CONFIGURED, unavailable, wechat_unavailable
from backend.integrations import IntegrationError, MemoryTokenCache
from backend.services.invitations import mp
from backend.services.invitations.qr import qr_png, qr_svg

bp = Blueprint("qr", __name__)

CACHE_CONTROL = "public, max-age=86400, immutable"
MPCODE_MEMORY_ENTRIES = 256
FORGED = "链接无效，请核对二维码或链接是否完整"


def verified_token(token: str) -> str:
    """Return the raw token of a URL token or scene; 404 when the signature fails."""
    raw = wiring.token_codec().verify(token)
    if raw is None:
        raise NotFound(FORGED)
    return raw


def rating_url(raw: str) -> str:
    """Return the link a QR code carries: PUBLIC_BASE_URL/r/<url_token>."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/r/{wiring.token_codec().url_token(raw)}"


def image_response(data: bytes, mimetype: str) -> Response:
    """Answer with an immutable, cacheable image (304 when the client's ETag matches)."""
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # embedded elsewhere
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(request)


@bp.get("/r/<token>/qr.svg")
def qr_code_svg(token: str) -> Response:
    """Serve the QR code of the rating link as SVG (for print)."""
    return image_response(qr_svg(rating_url(verified_token(token))), "image/svg+xml")


@bp.get("/r/<token>/qr.png")
def qr_code_png(token: str) -> Response:
    """Serve the QR code of the rating link as PNG (for screens)."""
    return image_response(qr_png(rating_url(verified_token(token))), "image/png")


def mpcode_cache() -> mp.ImageCache:
    """Return Redis (shared by every node) when configured, else a bounded in-process LRU."""
    app = current_app._get_current_object()
    if redis_connection(app) is not None:
        return wiring.token_cache(app)
    return app.extensions.setdefault(
        "mpcode_cache", MemoryTokenCache(maxsize=MPCODE_MEMORY_ENTRIES))


def image_mimetype(data: bytes) -> str:
    """Tell an image's type from its first bytes (WeChat sends JPEG unless asked otherwise)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "image/jpeg" if data.startswith(b"\xff\xd8") else "application/octet-stream"


@bp.get("/r/<token>/mpcode.jpg")
def mini_program_code(token: str) -> Response:
    """Serve the mini-program code opening the rating page with this token's scene."""
    scene = wiring.token_codec().scene(verified_token(token))
    wechat = wiring.wechat_client()
    if wechat is None:
        raise unavailable(NOT_CONFIGURED)
    config = current_app.config
    try:
        image = mp.mini_program_code(wechat, scene, config["WECHAT_MP_PAGE"],
                                     config["WECHAT_ENV_VERSION"], mpcode_cache())
    except IntegrationError as exc:
        raise wechat_unavailable(exc) from exc
    return image_response(image, image_mimetype(image))
