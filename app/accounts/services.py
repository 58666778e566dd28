"""Creating users, checking passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import ROLES, ApiToken, User
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db

TOKEN_PREFIX = "kontor_"


def create_user(email: str, name: str, password: str, role: str = "operator") -> User:
    """Add a user; the e-mail must be new and the role one of admin/operator/viewer."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.", field="role")
    if len(password) < 8:
        raise ValidationFailed("The password needs at least 8 characters.", field="password")
    if db.session.scalar(select(User).where(User.email == email)):
        raise ValidationFailed(f"A user with e-mail {email} already exists.", field="email")
    user = User(email=email, name=name.strip() or email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    return user


def update_user(user: User, *, name: str, role: str, active: bool, password: str | None = None) -> User:
    """Change a user's name, role, active flag and optionally password."""
    if role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.", field="role")
    if user.role == "admin" and (role != "admin" or not active) and _active_admins() <= 1:
        raise ValidationFailed("Kontor needs at least one active admin.", field="role")
    if password:
        if len(password) < 8:
            raise ValidationFailed("The password needs at least 8 characters.", field="password")
        user.password_hash = generate_password_hash(password)
    user.name, user.role, user.active = name.strip() or user.email, role, active
    db.session.commit()
    return user


def _active_admins() -> int:
    return len(db.session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))).all())


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def ensure_admin() -> tuple[User, str | None]:
    """Create the first admin if there is no user; return it and its generated password (once)."""
    existing = db.session.scalar(select(User).where(User.role == "admin").order_by(User.id))
    if existing is not None:
        return existing, None
    password = secrets.token_urlsafe(12)
    return create_user("admin@kontor.local", "Administrator", password, role="admin"), password


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token acting as `user`; the raw token is returned once and never stored."""
    if not name.strip():
        raise ValidationFailed("Give the token a name so you can recognise it later.", field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name.strip(), token_prefix=raw[: len(TOKEN_PREFIX) + 6], token_hash=_hash_token(raw), user=user)
    db.session.add(token)
    db.session.commit()
    return token, raw


def revoke_api_token(token_id: int) -> ApiToken:
    """Revoke a token; requests with it are refused from now on."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("No such API token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def user_for_token(raw: str) -> User | None:
    """The active user behind a valid, unrevoked token, or None."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(raw)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    # Recording every use would turn each API read into a write; a minute's precision is enough.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        db.session.commit()
    return token.user


def list_users() -> list[User]:
    """All users, admins first."""
    return list(db.session.scalars(select(User).order_by(User.role, User.email)))


def list_api_tokens() -> list[ApiToken]:
    """All tokens, newest first."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))
