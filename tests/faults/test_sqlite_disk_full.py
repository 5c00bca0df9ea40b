"""The SQLite backend on a full disk: StoreUnavailable (a retry later, never a wrong answer),
reads keep working, and writing resumes once there is space, with nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Past the schema and a few dozen writes: the WAL file hits it quickly.
LIMIT_BYTES = 1024 * 1024


def test_a_full_disk_is_unavailable_not_corrupt_and_recovers(tmp_path: Path) -> None:
    # GIVEN a store with claims and a finished job, WHEN the disk fills up (RLIMIT_FSIZE in a
    # child process, so no other test is affected)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.sqlite_full_child",
            str(tmp_path / "s.db"),
            str(LIMIT_BYTES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN writes fail with StoreUnavailable naming the cause (EFBIG reads as "disk I/O error",
    # ENOSPC as "database or disk is full"), promptly
    assert result["written_before_full"] > 0
    assert result["error"].startswith("SQLite: ") and "disk" in result["error"], result
    assert result["error_took_s"] < 10
    # ... a read still answers correctly ("done" stays done)
    assert result["read_while_full"] == "done"
    # ... and once there is space the same store writes again, with nothing lost
    assert result["write_after_space_freed"] == "claimed"
    assert result["kept_done"] and result["kept_claim"]
    # The operator sees the cause in the store's log line.
    assert "state.sqlite_error" in done.stdout + done.stderr
