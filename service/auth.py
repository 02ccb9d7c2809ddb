"""API keys: one or more per site, stored as SHA-256 hashes, looked up by prefix and compared in constant time.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching needed).
"""
import functools
import hashlib
import hmac
import secrets

from flask import g, request
from sqlalchemy import select

from .db import ApiKey, db_session, utcnow
from .errors import ApiError

KEY_PREFIX = "mod_"
PREFIX_LEN = 12  # stored in clear to find the row; the remaining ~40 characters stay secret


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_api_key(site: str, name: str, session=None) -> str:
    """Store a new key for `site`; return the raw key (shown once, never stored)."""
    session = session or db_session()
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(site=site, name=name, key_hash=_hash(raw), prefix=raw[:PREFIX_LEN]))
    session.commit()
    return raw


def verify_api_key(raw: str | None, session=None) -> ApiKey | None:
    if not raw or len(raw) > 200 or "\x00" in raw:
        return None
    session = session or db_session()
    digest = _hash(raw)
    found = None
    for key in session.scalars(select(ApiKey).where(ApiKey.prefix == raw[:PREFIX_LEN])):
        # compare every candidate, so timing does not depend on which one matched
        if hmac.compare_digest(key.key_hash, digest) and key.revoked_at is None:
            found = key
    return found


def revoke_api_key(key_id: int, session=None) -> bool:
    session = session or db_session()
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    session.commit()
    return True


def raw_key_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-API-Key")


def require_api_key(view):
    """Reject with 401 JSON unless a valid key is sent; sets g.site and g.api_key, then applies the rate limit."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = verify_api_key(raw_key_from_request())
        if key is None:
            raise ApiError(401, "missing or invalid API key (send 'Authorization: Bearer <key>' or 'X-API-Key')",
                           field="Authorization", code="unauthorized")
        g.site = key.site
        g.api_key = key
        from .ratelimit import bucket_for, check_rate_limit
        check_rate_limit(bucket_for(key))
        return view(*args, **kwargs)
    return wrapper
