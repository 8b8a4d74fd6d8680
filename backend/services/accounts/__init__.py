"""Console users and machine clients: sign-in, sessions, throttling, the audit trail."""

from __future__ import annotations

from backend.models import ConsoleUser  # the signed-in user the console carries
from backend.services.accounts.api_clients import authenticate, check_source, create_client
from backend.services.accounts.audit import record, verify
from backend.services.accounts.console_sessions import (
    end_all,
    end_session,
    live_session,
    open_session,
    purge_ended,
)
from backend.services.accounts.console_users import (
    checked_password,
    create_user,
    find_user,
    set_active,
    set_password,
)
from backend.services.accounts.login_throttle import LoginThrottle

__all__ = [
    "ConsoleUser", "LoginThrottle", "authenticate", "check_source", "checked_password",
    "create_client", "create_user", "end_all", "end_session", "find_user", "live_session",
    "open_session",    "purge_ended", "record", "set_active", "set_password", "verify",
]
