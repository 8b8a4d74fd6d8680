"""Who may call the platform: machine API clients and console users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Unit
from backend.models.types import UTCDateTime, utcnow

SCOPES = ("events:write", "directory:write", "campaigns:write", "scores:read", "scores:publish",
          "cases:read")
ROLES = ("org_admin", "unit_admin", "auditor", "viewer", "discipline")


class ApiClient(db.Model):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(500))
    sources: Mapped[str] = mapped_column(Text)  # comma-separated; events only from these
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def scope_set(self) -> frozenset[str]:
        """Return the granted scopes as a set."""
        return frozenset(s for s in self.scopes.split(",") if s)

    @property
    def source_set(self) -> frozenset[str]:
        """Return the sources the client may post events for."""
        return frozenset(s for s in self.sources.split(",") if s)


class ConsoleUser(db.Model):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Where case notices go (optional, encrypted with SECRET_KEYS): a mobile for SMS, the
    # user's mini-program openid for WeChat subscribe messages (SMS is the fallback).
    phone_enc: Mapped[str | None] = mapped_column(Text)
    openid_enc: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit | None] = relationship()


class ConsoleSession(db.Model):
    """A signed-in console session; the cookie carries a secret whose digest is the id.

    Deleting the row ends the session wherever its cookie has been copied: sign-out, a new
    password or a disabled account delete it; so do the idle and absolute limits.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
