"""Log-in throttling that cannot be used to lock others out.

Failures are counted per (client address, user name) and per client address. Past a free allowance each
further failure doubles the wait before that key may try again (capped), so a guesser slows to a crawl while the
same name from any other address logs in as usual. Refused attempts check no password and write no audit row.
Failed log-ins for names that do not exist are counted on the address's row and audited once per window.
"""
import hashlib
import time

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .tables import LoginThrottle

DEFAULTS = {
    "REVIEW_LOGIN_MAX_FAILURES": 5,              # free failures per (address, name) before back-off starts
    "REVIEW_LOGIN_MAX_FAILURES_PER_ADDRESS": 50,  # free failures per address (any names) before back-off
    "REVIEW_LOGIN_BACKOFF_BASE": 2.0,            # seconds of the first wait; doubles with each further failure
    "REVIEW_LOGIN_BACKOFF_MAX": 900.0,           # cap on one wait
    "REVIEW_LOGIN_WINDOW": 900,                  # seconds: counts restart after a quiet window
}

now = time.time   # tests move the clock


def _key(kind: str, address: str, username: str | None) -> str:
    return hashlib.sha256(f"{kind}\x00{address}\x00{username or ''}".encode()).hexdigest()


def _rows(session, address: str, username: str):
    return [("pair", _key("pair", address, username), username), ("address", _key("address", address, None), None)]


def wait_seconds(session, config, address: str, username: str) -> float:
    """Seconds before this address may try this name again (0: go ahead)."""
    t = now()
    keys = [k for _, k, _ in _rows(session, address, username)]
    blocked = session.scalars(select(LoginThrottle.blocked_until).where(LoginThrottle.key.in_(keys))).all()
    return max([b - t for b in blocked] + [0.0])


def _bump(session, kind, key, address, username, t, window, unknown: bool) -> LoginThrottle:
    """failures += 1 in one UPDATE (concurrent workers never lose a count); a quiet window restarts the count."""
    for _ in range(2):
        row = session.get(LoginThrottle, key, populate_existing=True)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(LoginThrottle(key=key, kind=kind, address=address, username=username, failures=1,
                                              window_start=t, blocked_until=0.0, unknown_failures=int(unknown)))
                return session.get(LoginThrottle, key)
            except IntegrityError:
                continue   # another worker inserted it: count on that row
        if t - row.window_start > window and row.blocked_until <= t:
            session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                            .values(failures=1, window_start=t,
                                    unknown_failures=LoginThrottle.unknown_failures + int(unknown)))
        else:
            session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                            .values(failures=LoginThrottle.failures + 1,
                                    unknown_failures=LoginThrottle.unknown_failures + int(unknown)))
        return session.get(LoginThrottle, key, populate_existing=True)
    raise RuntimeError("login throttle row could not be written")


def record_failure(session, config, address: str, username: str, *, known_user: bool) -> dict | None:
    """Count a failed log-in. Returns the details for an aggregated audit row when one is due (the first failure
    for an unknown name from this address in this window), else None. The caller commits."""
    t = now()
    window = float(config.get("REVIEW_LOGIN_WINDOW", DEFAULTS["REVIEW_LOGIN_WINDOW"]))
    base = float(config.get("REVIEW_LOGIN_BACKOFF_BASE", DEFAULTS["REVIEW_LOGIN_BACKOFF_BASE"]))
    cap = float(config.get("REVIEW_LOGIN_BACKOFF_MAX", DEFAULTS["REVIEW_LOGIN_BACKOFF_MAX"]))
    free = {"pair": int(config.get("REVIEW_LOGIN_MAX_FAILURES", DEFAULTS["REVIEW_LOGIN_MAX_FAILURES"])),
            "address": int(config.get("REVIEW_LOGIN_MAX_FAILURES_PER_ADDRESS",
                                      DEFAULTS["REVIEW_LOGIN_MAX_FAILURES_PER_ADDRESS"]))}
    audit = None
    for kind, key, name in _rows(session, address, username):
        row = _bump(session, kind, key, address, name, t, window, unknown=not known_user and kind == "address")
        over = row.failures - free[kind]
        if over > 0:
            row.blocked_until = max(row.blocked_until, t + min(cap, base * 2 ** (over - 1)))
        if kind == "address" and not known_user:
            bucket = int(t // window)
            if row.audited_window != bucket:
                audit = {"address": address, "window_start": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                             time.gmtime(bucket * window)),
                         "window_seconds": int(window), "example_name": username[:64],
                         # the failures counted since this address's previous row (not written one by one)
                         "unknown_name_failures_before": row.unknown_failures - 1,
                         "note": "later failed log-ins for unknown names from this address in this window "
                                 "are counted, not written one row each"}
                row.audited_window = bucket
                row.unknown_failures = 1
    session.flush()
    return audit


def record_success(session, address: str, username: str):
    """A good password clears this (address, name)'s count; the caller commits."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == _key("pair", address, username)))


def unlock(session, username: str) -> int:
    """Clear every address's count for this name (`moderation users unlock`); returns rows removed."""
    return session.execute(delete(LoginThrottle).where(LoginThrottle.username == username)).rowcount
