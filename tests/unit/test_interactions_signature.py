"""Ed25519 request verification: only Discord's correctly signed, fresh requests pass."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from interactions.signature import SignatureVerifier

KEY = SigningKey(b"\x07" * 32)
PUBLIC_HEX = KEY.verify_key.encode().hex()
NOW = 1_800_000_000


def verifier(max_age_s: float = 900.0) -> SignatureVerifier:
    return SignatureVerifier(PUBLIC_HEX, max_age_s=max_age_s, clock=lambda: NOW)


def sign(timestamp: str, body: bytes, key: SigningKey = KEY) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


def test_correct_signature_passes() -> None:
    # GIVEN a body signed with the application's key, timestamped now
    body = b'{"type":1}'
    # WHEN verified / THEN it passes
    assert verifier().verify(sign(str(NOW), body), str(NOW), body)


def test_uppercase_hex_signature_passes() -> None:
    body = b"{}"
    assert verifier().verify(sign(str(NOW), body).upper(), str(NOW), body)


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [(None, str(NOW)), ("00" * 64, None), (None, None), ("", str(NOW)), ("00" * 64, "")],
)
def test_missing_headers_fail(signature: str | None, timestamp: str | None) -> None:
    assert not verifier().verify(signature, timestamp, b"{}")
    assert not verifier().headers_well_formed(signature, timestamp)


@pytest.mark.parametrize("age_s", [901, -901, NOW])
def test_timestamps_outside_the_window_fail(age_s: int) -> None:
    # GIVEN a correct signature over a timestamp too far from now
    stamp = str(NOW - age_s)
    body = b"{}"
    # THEN it fails, although the signature itself is right
    assert not verifier().verify(sign(stamp, body), stamp, body)


def test_window_can_be_disabled() -> None:
    stamp, body = "1000", b"{}"
    assert verifier(max_age_s=0).verify(sign(stamp, body), stamp, body)


@pytest.mark.parametrize("key", ["", "zz" * 32, "00" * 31, "00" * 33])
def test_unusable_public_key_is_refused_at_startup(key: str) -> None:
    with pytest.raises(ValueError, match="DISCORD_PUBLIC_KEY"):
        SignatureVerifier(key)


# -- properties ----------------------------------------------------------------------------

timestamps = st.one_of(
    st.integers(min_value=NOW - 900, max_value=NOW + 900).map(str),
    st.text(max_size=24),
)
signatures = st.one_of(
    st.binary(min_size=64, max_size=64).map(bytes.hex),
    st.text(alphabet="0123456789abcdefABCDEF", max_size=140),
    st.text(max_size=140),
)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512), signature=signatures, timestamp=timestamps)
def test_random_signatures_never_pass_and_never_raise(
    body: bytes, signature: str, timestamp: str
) -> None:
    # A random signature is a forgery with overwhelming probability: it must be refused
    assert verifier().verify(signature, timestamp, body) is False


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=512),
    offset=st.integers(min_value=-900, max_value=900),
)
def test_correctly_signed_requests_always_pass(body: bytes, offset: int) -> None:
    stamp = str(NOW + offset)
    assert verifier().verify(sign(stamp, body), stamp, body) is True


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=256),
    flip=st.integers(min_value=0, max_value=10_000),
    offset=st.integers(min_value=-900, max_value=900),
)
def test_any_change_to_a_signed_request_fails(body: bytes, flip: int, offset: int) -> None:
    # GIVEN a correctly signed request with one bit of the body flipped
    stamp = str(NOW + offset)
    signature = sign(stamp, body)
    index = flip % len(body)
    tampered = body[:index] + bytes([body[index] ^ (1 << (flip % 8))]) + body[index + 1 :]
    # THEN it fails; so does the right body under another key's signature
    assert verifier().verify(signature, stamp, tampered) is False
    other = SigningKey(b"\x08" * 32)
    assert verifier().verify(sign(stamp, body, other), stamp, body) is False
