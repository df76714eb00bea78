"""The webhook signature scheme, checked against a plain HMAC computed here."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from bot.integrations.signing import signature, verify
from bot.integrations.webhooks import encode_body


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = encode_body({"event": "complaint.created", "number": "TS20261123-0001"})
    expected = hmac.new(b"secret", b"1764000000." + body, hashlib.sha256).hexdigest()
    assert signature("secret", 1764000000, body) == f"sha256={expected}"


def test_bodies_are_compact_utf8_json():
    assert (
        encode_body({"类型": "产品质量", "n": [1, 2]}) == '{"类型":"产品质量","n":[1,2]}'.encode()
    )


def test_verification_refuses_tampering_wrong_secrets_and_old_timestamps():
    body = b'{"a":1}'
    header = signature("k", 1000, body)
    assert verify("k", "1000", body, header, now=1000)
    assert not verify("k", "1000", b'{"a":2}', header, now=1000)
    assert not verify("other", "1000", body, header, now=1000)
    assert not verify("k", "1000", body, header, now=1000 + 301)
    assert not verify("k", "soon", body, header, now=1000)


@given(st.text(min_size=1), st.integers(0, 2**40), st.binary())
def test_whatever_is_signed_verifies(secret: str, stamp: int, body: bytes):
    secret = secret.encode("utf-8", "replace").decode("utf-8")
    assert verify(secret, str(stamp), body, signature(secret, stamp, body), now=stamp)
