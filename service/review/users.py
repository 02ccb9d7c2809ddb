"""Moderator accounts, log-in sessions and CSRF tokens for the /review pages.

The Flask session cookie (signed, HttpOnly, SameSite=Lax, Secure when REVIEW_SECURE_COOKIES) carries the user id,
the user's current `session_token` and a CSRF token. Log-out rotates `session_token`, so a copied cookie dies with
it; a disabled user is refused on the next request.
"""
import functools
import hmac
import secrets

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from service.db import db_session, utcnow

from .tables import ROLES, User

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD = 10


def create_user(session, username: str, password: str, role: str = "moderator", sites=None) -> User:
    """sites: the sites the user reviews (None or empty: every site)."""
    username = (username or "").strip()
    if not username:
        raise ValueError("username must not be empty")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)):
        raise ValueError(f"user {username!r} exists")
    sites = sorted({s.strip() for s in sites or () if s and s.strip()}) or None
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                session_token=secrets.token_hex(16), sites=sites)
    session.add(user)
    session.commit()
    return user


def disable_user(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    user.disabled_at = utcnow()
    user.session_token = secrets.token_hex(16)
    session.commit()
    return user


def set_password(session, username: str, password: str) -> User:
    """New password; every session of the user ends and every address's failed log-ins for the name are cleared."""
    from .throttle import unlock
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
    user.password_hash = generate_password_hash(password)
    user.session_token = secrets.token_hex(16)
    unlock(session, username)
    session.commit()
    return user


# Checked for unknown names too, so response time does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not a real password")


def authenticate(session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    return user if ok and user is not None and user.disabled_at is None else None


def log_in(user: User):
    session.clear()
    session["uid"] = user.id
    session["tok"] = user.session_token
    session["csrf"] = secrets.token_urlsafe(32)


def log_out():
    user = current_user()
    if user is not None:
        user.session_token = secrets.token_hex(16)
        db_session().commit()
    session.clear()


def current_user() -> User | None:
    if "review_user" not in g:
        user = db_session().get(User, session["uid"]) if "uid" in session else None
        if user is not None and (user.disabled_at is not None
                                 or not hmac.compare_digest(user.session_token, session.get("tok", ""))):
            user = None
        g.review_user = user
    return g.review_user


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf():
    """Refuse (400) a state-changing request whose token does not match this session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="missing or invalid CSRF token; reload the page and try again")


def login_required(role: str = "moderator"):
    """Page decorator: anonymous -> redirect to log-in (GET) or 401; wrong role -> 403."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("review.login", next=request.full_path))
                abort(401)
            if role == "admin" and user.role != "admin":
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
