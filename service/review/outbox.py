"""Decisions back to the CMS: a persistent outbox of signed webhooks, delivered with exponential backoff.

Every decision adds an `OutboxItem` row in the same transaction as the decision itself, so a decision is never
recorded without its webhook (nor the other way round). A worker (`moderation webhooks run`, or a thread per
process when WEBHOOK_WORKER_THREAD is true) claims due rows with a conditional UPDATE (a lease, so several
workers never send the same row at once), POSTs them, and marks them delivered on a 2xx answer; otherwise it
schedules the next attempt after BASE * 2**(attempts-1) seconds, capped at WEBHOOK_BACKOFF_MAX. A row is
sent again only when no 2xx was recorded for it; the `Idempotency-Key` header (the same on every attempt) lets
the receiver drop the rare duplicate (a crash between the receiver's 2xx and our commit).
"""
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

from sqlalchemy import select, update

from service.db import utcnow

from .signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from .tables import OutboxItem

log = logging.getLogger(__name__)

DEFAULTS = {
    # {site: [secret, ...]} or {"*": [...]} for every site; the first signs, all of them are sent (rotation).
    "WEBHOOK_SECRETS": {},
    # {site: url}: where decisions go when the comment itself came without a callback_url.
    "WEBHOOK_URLS": {},
    "WEBHOOK_BACKOFF_BASE": 5.0,      # seconds before the 2nd attempt; doubles after each failure
    "WEBHOOK_BACKOFF_MAX": 3600.0,    # cap between attempts
    "WEBHOOK_MAX_ATTEMPTS": 50,       # then status 'failed' (visible on the dashboard); ~2 days with the defaults
    "WEBHOOK_TIMEOUT": 10.0,          # seconds per POST
    "WEBHOOK_WORKER_THREAD": False,   # start a delivery thread in every app process
    "WEBHOOK_POLL_INTERVAL": 2.0,     # seconds between polls of the outbox
    # {site: [host, ...]} or {"*": [...]}: callback hosts allowed to resolve to loopback/private/link-local
    # addresses (a CMS on the internal network). Every other callback must resolve to a public address.
    "WEBHOOK_ALLOW_HOSTS": {},
}
LEASE_S = 120.0   # a claimed row is not re-claimed for this long (a worker that dies mid-POST frees it after)


def _lookup(mapping, site):
    mapping = mapping or {}
    return mapping.get(site, mapping.get("*"))


def secrets_for(config, site: str) -> list[str]:
    value = _lookup(config.get("WEBHOOK_SECRETS"), site) or []
    return [value] if isinstance(value, str) else list(value)


def enqueue(session, config, comment, payload: dict) -> OutboxItem | None:
    """Add the webhook for one decision to the session (the caller commits). None when the site has no URL."""
    url = comment.callback_url or _lookup(config.get("WEBHOOK_URLS"), comment.site)
    if not url:
        return None
    event_id = str(uuid.uuid4())
    body = json.dumps({"event_id": event_id, **payload}, sort_keys=True, separators=(",", ":"), default=str)
    item = OutboxItem(event_id=event_id, site=comment.site, url=url, body=body, status="pending", attempts=0,
                      next_attempt_at=time.time())
    session.add(item)
    return item


def allowed_hosts(config, site: str) -> set[str]:
    """Host names this site's webhooks may send to although they resolve to a non-public address."""
    hosts = config.get("WEBHOOK_ALLOW_HOSTS") or {}
    names = []
    for key in ("*", site):
        value = hosts.get(key) or []
        names += [value] if isinstance(value, str) else list(value)
    return {str(n).strip("[]").lower() for n in names}


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """False for loopback, private, link-local (cloud metadata: 169.254.169.254), shared, reserved, multicast."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to a moment later."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # the certificate names the host


class Undeliverable(ValueError):
    """A callback URL that can never be delivered to (not http(s), malformed): the row fails at once."""


def resolve(url: str, allow: set[str] = frozenset()) -> tuple[urllib.parse.SplitResult, list[str]]:
    """(parsed URL, the addresses to try, in order); ValueError saying why not. Addresses that are not public
    are refused unless the URL's host name is in `allow`."""
    problem = _permanent_problem(url)
    if problem:
        raise Undeliverable(problem)
    parsed = urllib.parse.urlsplit(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parsed.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValueError("callback host name does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if parsed.hostname not in allow:
        addresses = [a for a in addresses if public_address(ipaddress.ip_address(a.split("%")[0]))]
        if not addresses:
            raise ValueError("callback host is not a public address (loopback, private, link-local or metadata "
                             "addresses need WEBHOOK_ALLOW_HOSTS)")
    return parsed, list(dict.fromkeys(addresses))


def http_post(url: str, body: bytes, headers: dict, timeout: float, allow: set[str] = frozenset()) -> str | None:
    """POST; None on a 2xx answer, else a short description of what went wrong. A redirect is not a delivery
    (it is not followed). Connection errors all read the same, so the message tells nothing about a port."""
    try:
        parsed, addresses = resolve(url, allow)
    except ValueError as exc:
        return str(exc)
    kind = _PinnedHTTPSConnection if parsed.scheme == "https" else _PinnedHTTPConnection
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    for address in addresses:   # e.g. ::1, then 127.0.0.1 for an allowed `localhost`
        conn = kind(parsed.hostname, port, address, timeout)
        try:
            conn.connect()
        except OSError:
            conn.close()
            continue
        try:
            conn.request("POST", path, body=body, headers=headers)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            break
        finally:
            conn.close()
        return None if 200 <= status < 300 else f"HTTP {status}"
    return "no answer from the callback URL (connection failed, timed out or broke off)"


def backoff(attempts: int, base: float, cap: float) -> float:
    return min(cap, base * 2 ** max(0, attempts - 1))


def deliver_due(session, config, *, now: float | None = None, post=http_post, limit: int = 50) -> dict:
    """Send the rows that are due; returns counts {'delivered', 'retry', 'failed'}. Commits as it goes."""
    now = time.time() if now is None else now
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    due = session.execute(
        select(OutboxItem.id, OutboxItem.next_attempt_at)
        .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(limit)).all()
    session.commit()
    for item_id, scheduled in due:
        claimed = session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, OutboxItem.status == "pending",
                   OutboxItem.next_attempt_at == scheduled)
            .values(next_attempt_at=now + LEASE_S)).rowcount
        session.commit()
        if not claimed:
            continue   # another worker took it
        item = session.get(OutboxItem, item_id)
        session.refresh(item)
        item.attempts += 1
        secrets = secrets_for(config, item.site)
        permanent = False
        if not secrets:
            error = f"no webhook secret configured for site {item.site!r} (WEBHOOK_SECRETS)"
        else:
            body = item.body.encode()
            headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: item.event_id,
                       SIGNATURE_HEADER: sign(body, secrets), "User-Agent": "comment-moderation"}
            try:
                problem = _permanent_problem(item.url)
                if problem:
                    error, permanent = problem, True
                else:
                    error = _post(post, item.url, body, headers, float(config.get("WEBHOOK_TIMEOUT", 10.0)),
                                  allowed_hosts(config, item.site))
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others (nor the runner)
                log.exception("webhook %s could not be sent", item.event_id)
                error = f"delivery failed: {type(exc).__name__}"
        if error is None:
            item.status, item.delivered_at, item.last_error = "delivered", utcnow(), None
            counts["delivered"] += 1
        else:
            item.last_error = error
            if permanent or item.attempts >= int(config.get("WEBHOOK_MAX_ATTEMPTS", 50)):
                item.status = "failed"
                counts["failed"] += 1
                log.error("webhook %s to %s given up after %d attempts: %s", item.event_id, item.url,
                          item.attempts, error)
            else:
                item.next_attempt_at = now + backoff(item.attempts, float(config.get("WEBHOOK_BACKOFF_BASE", 5.0)),
                                                     float(config.get("WEBHOOK_BACKOFF_MAX", 3600.0)))
                counts["retry"] += 1
        session.commit()
    return counts


def _permanent_problem(url: str) -> str | None:
    """The URL can never be delivered to (stored before intake checked it, or configured so)."""
    from service.schema import url_problem
    problem = url_problem(url)
    if problem == "must be an absolute http(s) URL":
        return f"callback URL must be http or https: {url[:200]!r}"
    return f"invalid callback URL: {problem}" if problem else None


def _post(post, url, body, headers, timeout, allow):
    """`post` may be a test double taking the first four arguments only."""
    if post is http_post:
        return post(url, body, headers, timeout, allow)
    return post(url, body, headers, timeout)


def run_worker(app, stop: threading.Event | None = None):
    """Deliver until `stop` is set (or forever): the body of `moderation webhooks run` and of the thread."""
    stop = stop or threading.Event()
    interval = float(app.config.get("WEBHOOK_POLL_INTERVAL", 2.0))
    while not stop.is_set():
        try:
            with app.app_context():
                from service.db import db_session
                counts = deliver_due(db_session(), app.config)
        except Exception:   # a database hiccup must not kill the worker; it retries on the next poll
            log.exception("webhook delivery round failed")
            counts = {}
        if not counts.get("delivered") and not counts.get("retry"):
            stop.wait(interval)


def start_thread(app) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(app, stop), name="webhook-outbox", daemon=True).start()
    return stop
