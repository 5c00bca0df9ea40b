"""Helpers for source faults: an HTTP server whose audio stops mid-stream, and ffmpeg killing."""

from __future__ import annotations

import os
import re
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class StallingServer:
    """Serves one audio file's first ``fraction`` of bytes, then holds the connection open
    without sending more (a CDN that stops mid-stream); range retries past that point get
    their headers and then nothing either."""

    def __init__(self, path: Path, content_type: str, fraction: float) -> None:
        self.data = path.read_bytes()
        self.cut = int(len(self.data) * fraction)
        self.content_type = content_type
        self.release = threading.Event()
        self.requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/stall"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                self._headers()

            def do_GET(self) -> None:
                server.requests += 1
                start = self._range_start()
                self._headers(start)
                try:
                    # A retry (Range) past the cut gets headers and then nothing, like the first.
                    self.wfile.write(server.data[start : max(start, server.cut)])
                    self.wfile.flush()
                except OSError:
                    return
                server.release.wait(timeout=120)  # the stall: no more bytes, no close

            def _range_start(self) -> int:
                match = re.fullmatch(r"bytes=(\d+)-\d*", self.headers.get("Range", ""))
                return min(int(match.group(1)), len(server.data)) if match else 0

            def _headers(self, start: int = 0) -> None:
                size = len(server.data)
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(size - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def __enter__(self) -> StallingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes started by this process (the in-process worker's player)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if comm == "ffmpeg" and ppid == me:
            found.append(int(entry.name))
    return found


def kill_ffmpeg() -> list[int]:
    """SIGKILL every ffmpeg this process started; return their pids."""
    pids = ffmpeg_children()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids
