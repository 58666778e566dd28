"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, utcnow
from app.extensions import db

ROLES = ("admin", "operator", "viewer")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="operator")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Carried in the session (see get_id): raising it ends every session and remember-me cookie of the user.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The interface language ("pl", "en"); None follows the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(String(10))

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """The session's user reference: id and session version, e.g. '7:3'."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Make every existing session and remember-me cookie of this user invalid (caller commits)."""
        self.session_version = (self.session_version or 1) + 1

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Only a hash is stored; the prefix lets people tell tokens apart.
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


LOGIN_OUTCOMES = {
    "wrong_password": "wrong password",
    "unknown_email": "unknown e-mail",
    "switched_off": "account switched off",
    "locked": "locked after repeated failures",
}


class LoginAttempt(db.Model):
    """A failed sign-in, kept so an admin can see who tried what from where (never the password)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(20))

    user: Mapped[User | None] = relationship()

    @property
    def outcome_text(self) -> str:
        return LOGIN_OUTCOMES.get(self.outcome, self.outcome)
