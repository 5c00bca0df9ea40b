"""Child process for the disk-full test: fills an SQLite state store under a file-size limit
(RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk), then lifts the limit.

Run: python -m tests.faults.sqlite_full_child PATH LIMIT_BYTES; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sys
import time

from shared.state import JobClaim, StoreUnavailable
from shared.state.sqlite import SqliteStateStore

MAX_WRITES = 20_000


async def main(path: str, limit_bytes: int) -> dict[str, object]:
    store = SqliteStateStore(path)
    try:
        for n in range(20):
            await store.claim_job(f"before-{n}", owner="w1", ttl_s=3600)
        await store.finish_job("before-0")
        # The disk fills up: no file of this process may grow past limit_bytes.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
        written, error, took_s = 0, "", 0.0
        for n in range(MAX_WRITES):
            started = time.monotonic()
            try:
                await store.claim_job(f"fill-{n}-" + "x" * 200, owner="w1", ttl_s=3600)
            except StoreUnavailable as exc:
                error, took_s = str(exc), time.monotonic() - started
                break
            written += 1
        # Reads still answer while the disk is full.
        read_while_full = await store.claim_job("before-0", owner="w2", ttl_s=60)
        # Space is freed: the same store (no restart) writes again, and kept what it had.
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        after = await store.claim_job("after-1", owner="w1", ttl_s=3600)
        kept_done = await store.claim_job("before-0", owner="w2", ttl_s=60)
        kept_claim = await store.claim_job("before-1", owner="w2", ttl_s=60)
    finally:
        await store.aclose()
    return {
        "written_before_full": written,
        "error": error,
        "error_took_s": round(took_s, 3),
        "read_while_full": read_while_full.value,
        "write_after_space_freed": after.value,
        "kept_done": kept_done == JobClaim.DONE,
        "kept_claim": kept_claim == JobClaim.IN_PROGRESS,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))))
