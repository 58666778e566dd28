"""Creating users, checking passwords and API tokens."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash
from flask_babel import lazy_gettext as _l

from app.accounts import throttle
from app.accounts.models import ROLES, ApiToken, LoginAttempt, User
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import LOCALES
from app.core.types import utcnow
from app.extensions import db

TOKEN_PREFIX = "kontor_"
# Failed sign-ins older than this are dropped from the list admins see.
LOGIN_ATTEMPTS_KEPT = timedelta(days=90)

SESSION_REFERENCE = re.compile(r"(\d{1,10}):(\d{1,9})", re.ASCII)

log = logging.getLogger(__name__)


def create_user(email: str, name: str, password: str, role: str = "operator") -> User:
    """Add a user; the e-mail must be new and the role one of admin/operator/viewer."""
    email = normalise_email(email)
    if role not in ROLES:
        raise ValidationFailed(_l("Role must be one of %(join)s.", join=', '.join(ROLES)), field="role")
    if len(password) < 8:
        raise ValidationFailed(_l("The password needs at least 8 characters."), field="password")
    if db.session.scalar(select(User).where(User.email == email)):
        raise ValidationFailed(_l("A user with e-mail %(email)s already exists.", email=email), field="email")
    user = User(email=email, name=name.strip() or email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    return user


def update_user(user: User, *, name: str, role: str, active: bool, password: str | None = None) -> User:
    """Change a user's name, role, active flag and optionally password."""
    if role not in ROLES:
        raise ValidationFailed(_l("Role must be one of %(join)s.", join=', '.join(ROLES)), field="role")
    if user.role == "admin" and (role != "admin" or not active) and _active_admins() <= 1:
        raise ValidationFailed(_l("Kontor needs at least one active admin."), field="role")
    if password:
        if len(password) < 8:
            raise ValidationFailed(_l("The password needs at least 8 characters."), field="password")
        user.password_hash = generate_password_hash(password)
    if password or (user.active and not active):
        user.end_sessions()
    user.name, user.role, user.active = name.strip() or user.email, role, active
    db.session.commit()
    return user


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie stops working."""
    user.end_sessions()
    db.session.commit()


def user_for_session(reference: str) -> User | None:
    """The active user a session's `id:version` reference names, or None if that session was ended."""
    match = SESSION_REFERENCE.fullmatch(reference)
    if match is None or int(match[1]) >= 2**31:
        return None
    user = db.session.get(User, int(match[1]))
    if user is None or not user.active or user.session_version != int(match[2]):
        return None
    return user


def _active_admins() -> int:
    return len(db.session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))).all())


@dataclass(frozen=True)
class SignIn:
    """The answer to a sign-in: the user, or why not (retry_after > 0: throttled, try again in that many s)."""

    user: User | None
    retry_after: int = 0


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    """An e-mail as stored: trimmed, lower case, without NUL (which PostgreSQL cannot hold)."""
    return email.replace("\x00", "").strip().lower()[:255]


def sign_in(email: str, password: str, client_address: str, user_agent: str = "") -> SignIn:
    """Check credentials, unless repeated failures lock this account or address; failures are recorded."""
    email = normalise_email(email)
    address = (client_address or "unknown")[:64]
    wait = throttle.retry_after(email, address)
    if wait:
        log.warning("Sign-in refused for %r from %s: locked for %d s more", email, address, wait)
        return SignIn(None, retry_after=wait)
    user = db.session.scalar(select(User).where(User.email == email))
    # Unknown e-mails cost the same hashing as known ones, so timing does not tell which e-mails exist.
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if user is not None and user.active and password_ok:
        throttle.clear_account(email)
        user.last_login_at = utcnow()
        db.session.commit()
        return SignIn(user)
    outcome = "unknown_email" if user is None else "wrong_password" if not password_ok else "switched_off"
    _record_failure(email, user, address, user_agent, outcome)
    locked = throttle.record_failure(email, address)
    if locked:
        _record_failure(email, user, address, user_agent, "locked")
    return SignIn(None)


def _record_failure(email: str, user: User | None, address: str, user_agent: str, outcome: str) -> None:
    log.warning("Failed sign-in for %r from %s: %s", email, address, outcome)
    db.session.add(LoginAttempt(email=email, user=user, client_address=address,
                                user_agent=user_agent.replace("\x00", "")[:255], outcome=outcome))
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < utcnow() - LOGIN_ATTEMPTS_KEPT))
    db.session.commit()


def recent_login_attempts(limit: int = 200) -> list[LoginAttempt]:
    """The latest failed sign-ins, newest first."""
    return list(db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id.desc()).limit(limit)))


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
        raise ValidationFailed(_l("Give the token a name so you can recognise it later."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name.strip(), token_prefix=raw[: len(TOKEN_PREFIX) + 6], token_hash=_hash_token(raw), user=user)
    db.session.add(token)
    db.session.commit()
    return token, raw


def get_api_token(token_id: int) -> ApiToken:
    """The token with that id (NotFound if none)."""
    token = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if token is None:
        raise NotFound(_l("No such API token."))
    return token


def revoke_api_token(token_id: int) -> ApiToken:
    """Revoke a token; requests with it are refused from now on."""
    token = get_api_token(token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def revoke_api_tokens_named(user: User, name: str) -> list[ApiToken]:
    """Revoke every unrevoked token of `user` called `name`; the tokens revoked."""
    tokens = list(db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.name == name.strip(), ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)))
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    db.session.commit()
    return tokens


def user_by_email(email: str) -> User | None:
    """The user with that e-mail (any case), or None."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


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


def set_locale(user: User, locale: str | None) -> User:
    """Set the interface language a user sees; None follows their browser."""
    if locale is not None and locale not in LOCALES:
        raise ValidationFailed(_l("Kontor speaks %(join)s; not %(locale)s.", join=', '.join(LOCALES), locale=locale), field="locale")
    user.locale = locale
    db.session.commit()
    return user
