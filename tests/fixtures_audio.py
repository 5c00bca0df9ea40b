"""Pytest plugin: generated test tones served over HTTP on 127.0.0.1.

Listed in ``tests/conftest.py`` ``pytest_plugins``. The server runs in a thread (not on a test's
event loop) so it is shared by the whole session and by sync and async tests alike.

Endpoints (all GET/HEAD):
- ``/tone/{freq}-{duration}.{fmt}[?gain=dB]``: a sine tone, generated once with ffmpeg (at
  -18 dBFS RMS, plus ``gain`` dB); Range supported.
  ``fmt``: ``webm`` (Opus in WebM), ``ogg`` (Opus in Ogg), ``mp3``, ``m4a`` (AAC in MP4).
- ``/redirect?to=URL``: 302 to ``URL``; ``/redirect-loop``: redirects to itself forever.
- ``/page?src=URL[&src=URL2...]``: an HTML page with one ``<audio src>`` per URL (yt-dlp's
  generic HTML5 path; several make a playlist).
- ``/playlist.m3u8?src=URL``: an HLS playlist whose one segment is ``URL``.
- ``/many?n=N&d=SECONDS``: an HTML page with N ``<audio>`` tones (a big playlist, short link).
- ``/hang``: reads the request and never answers.
- ``/hang-body``: sends 200 headers, then never sends the body.
- anything else: 404.
Every request is recorded (method, path, headers) so a test can prove a request was NOT made.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

# Encoder arguments per served format, and the Content-Type sent for it.
TONE_FORMATS: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType(
    {
        "webm": (("-c:a", "libopus", "-b:a", "64k", "-f", "webm"), "audio/webm"),
        "ogg": (("-c:a", "libopus", "-b:a", "64k", "-f", "ogg"), "audio/ogg"),
        "mp3": (("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"), "audio/mpeg"),
        "m4a": (("-c:a", "aac", "-b:a", "128k", "-f", "ipod"), "audio/mp4"),
    }
)
_TONE_PATH = re.compile(r"^/tone/(?P<freq>\d+)-(?P<dur>\d+(?:\.\d+)?)\.(?P<fmt>[a-z0-9]+)$")
_RANGE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")
_HANG_LIMIT_S = 60.0


@dataclass(frozen=True)
class RequestRecord:
    """One request the tone server received."""

    method: str
    path: str
    headers: dict[str, str]


def generate_tone(
    path: Path, freq: int, duration_s: float, fmt: str, *, gain_db: float = 0.0
) -> Path:
    """Write a sine tone of ``freq`` Hz lasting ``duration_s`` to ``path`` with ffmpeg, at
    ffmpeg's sine level (-18 dBFS RMS) plus ``gain_db``."""
    encoder_args, _ = TONE_FORMATS[fmt]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:duration={duration_s}"
            + (f",volume={gain_db:g}dB" if gain_db else ""),
            "-ac",
            "2",
            "-ar",
            "48000",
            *encoder_args,
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def ffprobe(target: str | Path) -> dict[str, Any]:
    """Return ffprobe's JSON (format + streams) for a file or URL."""
    ffprobe_bin = shutil.which("ffprobe")
    if ffprobe_bin is None:
        pytest.skip("ffprobe is not installed")
    out = subprocess.run(
        [
            ffprobe_bin,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(target),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-response (ffmpeg, cancelled probes) are normal here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ToneServer:
    """A threaded HTTP server serving generated tones and misbehaving endpoints."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._files_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self.stop_event = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="tone-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def close(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self.stop_event.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- URLs -----------------------------------------------------------------------------
    def url(
        self, freq: int = 440, duration: float = 3.0, fmt: str = "webm", *, gain_db: float = 0.0
    ) -> str:
        """URL of a tone (``gain_db`` louder or quieter than the default level); the file is
        generated on first request (or by :meth:`file`)."""
        if fmt not in TONE_FORMATS:
            raise ValueError(f"unknown tone format {fmt!r}; known: {sorted(TONE_FORMATS)}")
        gain = f"?gain={gain_db:g}" if gain_db else ""
        return f"{self.base_url}/tone/{freq}-{duration:g}.{fmt}{gain}"

    def redirect_url(self, to: str) -> str:
        """URL answering 302 with ``Location: to``."""
        return f"{self.base_url}/redirect?to={quote(to, safe='')}"

    def redirect_loop_url(self) -> str:
        """URL that redirects to itself forever."""
        return f"{self.base_url}/redirect-loop"

    def page_url(self, *srcs: str) -> str:
        """URL of an HTML page embedding one ``<audio src=...>`` per ``srcs``."""
        query = "&".join(f"src={quote(src, safe='')}" for src in srcs)
        return f"{self.base_url}/page?{query}"

    def many_url(self, count: int, *, duration: float = 1.0) -> str:
        """URL of a page embedding ``count`` different tones (one playlist of that length)."""
        return f"{self.base_url}/many?n={count}&d={duration:g}"

    def playlist_url(self, src: str) -> str:
        """URL of an HLS playlist listing ``src`` as its only segment."""
        return f"{self.base_url}/playlist.m3u8?src={quote(src, safe='')}"

    def missing_url(self) -> str:
        """URL answering 404."""
        return f"{self.base_url}/missing/gone.webm"

    def hang_url(self) -> str:
        """URL that accepts the connection and never answers."""
        return f"{self.base_url}/hang"

    def hang_body_url(self) -> str:
        """URL that sends headers and then never sends the body."""
        return f"{self.base_url}/hang-body"

    # --- files and request log ------------------------------------------------------------
    def file(
        self, freq: int = 440, duration: float = 3.0, fmt: str = "webm", *, gain_db: float = 0.0
    ) -> Path:
        """Local path of a tone (generated once per session)."""
        if fmt not in TONE_FORMATS:
            raise ValueError(f"unknown tone format {fmt!r}")
        gain = f"-{gain_db:g}db" if gain_db else ""
        path = self._cache_dir / f"tone-{freq}-{duration:g}{gain}.{fmt}"
        with self._files_lock:
            if not path.exists():
                tmp = path.with_name(f"{path.stem}.part.{fmt}")
                generate_tone(tmp, freq, duration, fmt, gain_db=gain_db)
                tmp.rename(path)
        return path

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request received since the last :meth:`clear_requests`."""
        with self._log_lock:
            return list(self._requests)

    def request_count(self, path_prefix: str = "/") -> int:
        """How many requests had a path starting with ``path_prefix``."""
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        with self._log_lock:
            self._requests.clear()

    def record(self, record: RequestRecord) -> None:
        """Record one request (called from handler threads)."""
        with self._log_lock:
            self._requests.append(record)


def _make_handler(server: ToneServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # the request log replaces stderr noise

        def do_HEAD(self) -> None:
            self._dispatch(head=True)

        def do_GET(self) -> None:
            self._dispatch(head=False)

        def _dispatch(self, *, head: bool) -> None:
            split = urlsplit(self.path)
            server.record(RequestRecord(self.command, self.path, dict(self.headers.items())))
            query = parse_qs(split.query)
            if split.path == "/hang":
                server.stop_event.wait(_HANG_LIMIT_S)
                self.close_connection = True
                return
            if split.path == "/hang-body":
                self._headers(200, "text/html", 1_000_000)
                self.end_headers()
                self.wfile.flush()
                server.stop_event.wait(_HANG_LIMIT_S)
                self.close_connection = True
                return
            if split.path == "/redirect" and "to" in query:
                self._redirect(query["to"][0])
                return
            if split.path == "/redirect-loop":
                self._redirect("/redirect-loop")
                return
            if split.path == "/page" and "src" in query:
                players = "".join(
                    f'<audio controls src="{html.escape(src, quote=True)}"></audio>'
                    for src in query["src"]
                )
                body = (
                    "<!DOCTYPE html><html><head><title>Tone page</title></head>"
                    f"<body>{players}</body></html>"
                ).encode()
                self._send_bytes(body, "text/html; charset=utf-8", head=head)
                return
            if split.path == "/many" and "n" in query:
                count = min(int(query["n"][0]), 1000)
                duration = float(query.get("d", ["1"])[0])
                players = "".join(
                    f'<audio controls src="/tone/{200 + 5 * i}-{duration:g}.webm"></audio>'
                    for i in range(count)
                )
                body = (
                    "<!DOCTYPE html><html><head><title>Many tones</title></head>"
                    f"<body>{players}</body></html>"
                ).encode()
                self._send_bytes(body, "text/html; charset=utf-8", head=head)
                return
            if split.path == "/playlist.m3u8" and "src" in query:
                body = (
                    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
                    f"#EXTINF:10.0,\n{query['src'][0]}\n#EXT-X-ENDLIST\n"
                ).encode()
                self._send_bytes(body, "application/vnd.apple.mpegurl", head=head)
                return
            match = _TONE_PATH.match(split.path)
            if match and match["fmt"] in TONE_FORMATS:
                gain = float((query.get("gain") or ["0"])[0])
                path = server.file(
                    int(match["freq"]), float(match["dur"]), match["fmt"], gain_db=gain
                )
                self._send_bytes(path.read_bytes(), TONE_FORMATS[match["fmt"]][1], head=head)
                return
            self._send_bytes(b"not found", "text/plain", head=head, status=404)

        def _headers(self, status: int, content_type: str, length: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send_bytes(
            self, data: bytes, content_type: str, *, head: bool, status: int = 200
        ) -> None:
            start, end = 0, len(data) - 1
            range_header = self.headers.get("Range")
            match = _RANGE.match(range_header.strip()) if range_header else None
            if status == 200 and match and (match["start"] or match["end"]):
                if match["start"]:
                    start = int(match["start"])
                    end = min(int(match["end"]), end) if match["end"] else end
                else:  # suffix range: the last N bytes
                    start = max(0, len(data) - int(match["end"]))
                if start >= len(data) or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._headers(206, content_type, end - start + 1)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                self._headers(status, content_type, len(data))
            self.end_headers()
            if not head:
                try:
                    self.wfile.write(data[start : end + 1])
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # clients (ffmpeg probing) hang up early

    return Handler


@pytest.fixture(scope="session")
def tone_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToneServer]:
    """The session-wide tone server (request log shared across tests)."""
    server = ToneServer(tmp_path_factory.mktemp("tones"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def tone_server(tone_server_session: ToneServer) -> ToneServer:
    """The tone server with an empty request log for this test."""
    tone_server_session.clear_requests()
    return tone_server_session
