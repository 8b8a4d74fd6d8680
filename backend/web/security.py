"""Security of the served pages: headers, CSRF on forms, cookie flags, tokens masked in logs.

The JSON API under /api authenticates with tokens and bearer keys, never with cookies, so it
is outside CSRF protection; every other state-changing request must carry the form's token.

Every response gets a strict CSP (the API docs page included: its boot script is a file),
Permissions-Policy, Cross-Origin-Opener-Policy and -Resource-Policy (QR images say
cross-origin themselves: business systems embed them), and HSTS when PUBLIC_BASE_URL is https.
Nothing private is stored by a browser or proxy: pages carrying a token, every console page
and every answer to a request with credentials are `Cache-Control: no-store`.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from backend.observability.masking import carries_token, mask_tokens_in_logs

csrf = CSRFProtect()

POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
}
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), payment=(), usb=()")
HSTS = "max-age=31536000"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

def csp_nonce() -> str:
    """Return this response's nonce for an inline <script> or <style> (adds it to the CSP)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy() -> str:
    """Return the CSP of the current response."""
    policy = dict(POLICY)
    if nonce := g.get("csp_nonce"):
        for directive in ("script-src", "style-src"):
            policy[directive] += f" 'nonce-{nonce}'"
    return "; ".join(f"{name} {value}" for name, value in policy.items())


PLAIN_POLICY = "; ".join(f"{name} {value}" for name, value in POLICY.items())
FIXED_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                 ("Referrer-Policy", "no-referrer"), ("Permissions-Policy", PERMISSIONS_POLICY),
                 ("Cross-Origin-Opener-Policy", "same-origin"),
                 ("Cross-Origin-Resource-Policy", "same-origin"))


def security_headers(policy: str, public_base_url: str, private: bool) -> list[tuple[str, str]]:
    """Return the security headers of an answer with this CSP, site and privacy."""
    headers = [("Content-Security-Policy", policy), *FIXED_HEADERS]
    if public_base_url.startswith("https://"):
        headers.append(("Strict-Transport-Security", HSTS))
    if private:
        headers.append(("Cache-Control", "no-store"))
    return headers


def token_answer_headers(public_base_url: str) -> list[tuple[str, str]]:
    """Return the headers `add_security_headers` gives an answer to a link's request.

    That is a response with no header of its own and no nonce, to a request whose path holds
    a token and which carries no credentials: what the lean submission path answers with.
    """
    return security_headers(PLAIN_POLICY, public_base_url, private=True)


def add_security_headers(response: Response) -> Response:
    """Add the security headers, keeping any a view has set for itself.

    The names present are read once (each lookup of a header scans them all).
    """
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    private = "cache-control" not in present and is_private(request.path)
    policy = "" if "content-security-policy" in present else content_security_policy()
    headers.extend((name, value) for name, value in security_headers(
        policy, current_app.config["PUBLIC_BASE_URL"], private) if name.lower() not in present)
    return response


def is_private(path: str) -> bool:
    """Tell whether an answer must not be stored: a token page, the console, credentials."""
    return (carries_token(path) or path.startswith("/console/")
            or "Authorization" in request.headers)


def forget_request_state() -> None:
    """Drop per-request security state that an outer app context (tests, CLI) would share."""
    for name in ("csp_nonce", "csrf_valid", current_app.config["WTF_CSRF_FIELD_NAME"]):
        g.pop(name, None)


def protect_forms() -> None:
    """Require the CSRF token on state-changing requests outside the JSON API."""
    if request.method not in UNSAFE_METHODS or request.path.startswith("/api/"):
        return
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, building the signer only for a request with a cookie.

    Most requests (the API's, a rater's first page) carry no session cookie: they get an
    empty session at once, as Flask would give them after building its signer.
    """

    def open_session(self, app: Flask, request):
        """Return an empty session without a cookie; else open the cookie as Flask does."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def configure_cookies(app: Flask) -> None:
    """Derive the session secret from SECRET_KEYS and harden the session cookie."""
    keys = app.config["SECRET_KEYS"]
    if not app.secret_key:
        app.secret_key = keys[0]
        app.config["SECRET_KEY_FALLBACKS"] = list(keys[1:])
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_BASE_URL"].startswith("https://")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = CookieSessions()


def configure_csrf(app: Flask) -> None:
    """Protect forms through our own hook so that /api stays exempt whatever its blueprints."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # Pages carry Referrer-Policy: no-referrer, so the Referer check of HTTPS requests would
    # refuse every form; the session-bound token and SameSite cookies do the work.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    # A rater may leave the page open for a while; an expired token only costs a resubmit.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 24 * 3600)
    csrf.init_app(app)
    app.before_request(forget_request_state)
    app.before_request(protect_forms)


def init_app(app: Flask) -> None:
    """Install security headers, CSRF protection, cookie flags and log masking."""
    configure_cookies(app)
    configure_csrf(app)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    mask_tokens_in_logs()
