"""Ed25519 verification of Discord's request signature, as pure functions of the request.

Discord signs `X-Signature-Timestamp + raw body` with the application's key and probes the
endpoint with bad signatures: anything that does not verify must be refused (401) before the
body is parsed or logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"

_SIGNATURE_HEX = re.compile(r"[0-9a-fA-F]{128}")
_PUBLIC_KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")
# Unix seconds; a short cap keeps int() cheap on hostile input.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureVerifier:
    """Checks Discord signatures with a key parsed once (per app, not per request)."""

    def __init__(
        self,
        public_key_hex: str,
        *,
        max_age_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _PUBLIC_KEY_HEX.fullmatch(public_key_hex):
            raise ValueError("DISCORD_PUBLIC_KEY must be 64 hex characters (an Ed25519 key)")
        self._key = VerifyKey(bytes.fromhex(public_key_hex))
        self._max_age_s = max_age_s
        self._clock = clock

    def headers_well_formed(self, signature: str | None, timestamp: str | None) -> bool:
        """Cheap shape check, done before reading the body."""
        return (
            signature is not None
            and timestamp is not None
            and _SIGNATURE_HEX.fullmatch(signature) is not None
            and _TIMESTAMP.fullmatch(timestamp) is not None
        )

    def verify(self, signature: str | None, timestamp: str | None, body: bytes) -> bool:
        """True only for a correctly signed, fresh enough request; never raises."""
        if signature is None or timestamp is None:
            return False
        if not self.headers_well_formed(signature, timestamp):
            return False
        if self._max_age_s and abs(self._clock() - int(timestamp)) > self._max_age_s:
            return False
        try:
            self._key.verify(timestamp.encode("ascii") + body, bytes.fromhex(signature))
        except (CryptoError, ValueError):  # bad signature, or bytes nacl refuses
            return False
        return True
