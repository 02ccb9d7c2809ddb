"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>`, one `v1=` per active secret (so secrets can rotate).

Header sent with every webhook (CMS side: recompute with your secret, compare in constant time, reject old `t`):

    X-Moderation-Signature: t=1764268800,v1=<hex hmac of b"1764268800." + body>[,v1=<hex, next secret>]

No Flask here: a receiver written in Python can import `verify` as it is.
"""
import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Moderation-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_S = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: list[str], timestamp: int | None = None) -> str:
    if not secrets:
        raise ValueError("no webhook secret to sign with")
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return ",".join([f"t={timestamp}"] + [f"v1={_mac(s, timestamp, body)}" for s in secrets])


def verify(body: bytes, header: str | None, secrets: list[str], *, now: float | None = None,
           tolerance: int = TOLERANCE_S) -> bool:
    """True when any `v1` in the header matches any of `secrets` and `t` is within `tolerance` seconds of now."""
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = [_mac(s, timestamp, body) for s in secrets]
    # Compare every pair (no early exit) so timing says nothing about which one matched.
    matched = False
    for candidate in candidates:
        for mac in expected:
            matched |= hmac.compare_digest(candidate, mac)
    return matched
