"""The webhook signature scheme (documented for receivers; tests verify it independently).

Every delivery carries:
  X-Complaint-Bot-Event:      the event name (complaint.created, ...)
  X-Complaint-Bot-Delivery:   a unique delivery id (the same on every retry of one delivery)
  X-Complaint-Bot-Timestamp:  Unix time in seconds when this attempt was sent
  X-Complaint-Bot-Signature:  sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the exact bytes of the body,
compares it in constant time, refuses timestamps more than 5 minutes away from its clock (replays)
and treats a delivery id it has seen before as done (retries).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Complaint-Bot-Signature"
TIMESTAMP_HEADER = "X-Complaint-Bot-Timestamp"
EVENT_HEADER = "X-Complaint-Bot-Event"
DELIVERY_HEADER = "X-Complaint-Bot-Delivery"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: sha256=<hex digest>."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when `header` signs `body` at `timestamp` and the timestamp is recent."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), header)
