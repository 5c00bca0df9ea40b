"""Run a Lambda bundle's handler with nothing but the bundle and the standard library.

    python3.12 -I -S scripts/lambda_bundle_smoke.py build/lambda-x86_64

`-I -S` keep site-packages and PYTHON* variables out, so a module missing from the bundle
fails here as it would on Lambda. It answers one unsigned request (401) and one signed PING
(type 1), and checks that nothing of the worker was imported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

EVENT = Path(__file__).resolve().parents[1] / "tests" / "events" / "apigw_http_v2_interaction.json"
FORBIDDEN_MODULES = ("discord", "yt_dlp", "voice_worker", "fake_discord")


def _event(body: bytes, signature: str, timestamp: str) -> dict[str, object]:
    event: dict[str, object] = json.loads(EVENT.read_text())
    headers = dict(event["headers"])  # type: ignore[call-overload]
    headers.update(
        {
            "content-length": str(len(body)),
            "x-signature-ed25519": signature,
            "x-signature-timestamp": timestamp,
        }
    )
    event["headers"] = headers
    event["body"] = body.decode()
    return event


def main(bundle: str) -> int:
    """Import the handler from the bundle and check two answers; 0 when both are right."""
    sys.path.insert(0, bundle)
    from nacl.signing import SigningKey  # noqa: PLC0415 - from the bundle, after sys.path

    key = SigningKey.generate()
    os.environ.update(
        DISCORD_PUBLIC_KEY=key.verify_key.encode().hex(),
        DISCORD_APPLICATION_ID="100000000000000000",
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
        AWS_REGION="us-east-1",
    )
    started = time.perf_counter()
    from interactions.lambda_entry import handler  # noqa: PLC0415

    import_s = time.perf_counter() - started

    body = b'{"type": 1, "id": "1", "application_id": "100000000000000000", "token": "t"}'
    timestamp = str(int(time.time()))
    unsigned = handler(_event(body, "00" * 64, timestamp), None)
    signature = key.sign(timestamp.encode() + body).signature.hex()
    ping = handler(_event(body, signature, timestamp), None)

    loaded = sorted(name for name in FORBIDDEN_MODULES if name in sys.modules)
    ok = (
        unsigned["statusCode"] == 401
        and ping["statusCode"] == 200
        and json.loads(ping["body"]).get("type") == 1
        and not loaded
    )
    sys.stdout.write(
        json.dumps(
            {
                "ok": ok,
                "python": sys.version.split()[0],
                "import_s": round(import_s, 3),
                "unsigned_status": unsigned["statusCode"],
                "ping_status": ping["statusCode"],
                "ping_body": ping["body"],
                "worker_modules_loaded": loaded,
            }
        )
        + "\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
