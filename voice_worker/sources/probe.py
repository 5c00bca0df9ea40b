"""ffprobe a stream when yt-dlp didn't say what it is (direct links: codec and duration unknown)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voice_worker.sources.ffmpeg import input_args

_STDERR_LIMIT = 300


class ProbeFailed(Exception):
    """ffprobe failed or timed out (internal: the resolver falls back to transcoding)."""


@dataclass(frozen=True)
class ProbeResult:
    """What ffprobe saw: first audio stream's codec, the container, the duration."""

    codec: str | None
    format_name: str | None
    duration_s: float | None

    @property
    def container(self) -> str | None:
        """A yt-dlp-style ext for the container (ffprobe says "matroska,webm", "ogg", ...)."""
        if self.format_name is None:
            return None
        first = self.format_name.split(",")[0]
        return {"matroska": "webm", "mov": "m4a"}.get(first, first)


def build_ffprobe_argv(
    url: str, headers: Mapping[str, str], *, is_manifest: bool, ffprobe_path: str = "ffprobe"
) -> list[str]:
    """argv printing the first audio stream's codec and the container's duration as JSON."""
    return [
        ffprobe_path,
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_entries",
        "format=format_name,duration:stream=codec_name,duration",
        "-select_streams",
        "a:0",
        *input_args(url, headers, is_manifest=is_manifest),
        "-i",
        url,
    ]


def parse_ffprobe_json(raw: bytes) -> ProbeResult:
    """Parse ffprobe's JSON output."""
    try:
        data: dict[str, Any] = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ProbeFailed("ffprobe printed invalid JSON") from exc
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    stream = streams[0] if streams else {}
    duration = _to_float(fmt.get("duration")) or _to_float(stream.get("duration"))
    return ProbeResult(stream.get("codec_name"), fmt.get("format_name"), duration)


async def probe(
    url: str,
    headers: Mapping[str, str],
    *,
    timeout_s: float,
    is_manifest: bool = False,
    ffprobe_path: str = "ffprobe",
) -> ProbeResult:
    """Run ffprobe as a subprocess (never blocking the loop); kill it on timeout or cancel."""
    argv = build_ffprobe_argv(url, headers, is_manifest=is_manifest, ffprobe_path=ffprobe_path)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ProbeFailed(f"cannot run ffprobe: {exc.strerror}") from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        raise ProbeFailed("ffprobe timed out") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        # ffprobe's stderr may quote the URL: keep it out of the message (and so the logs).
        first_line = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        reason = first_line[0].rsplit(": ", 1)[-1][:_STDERR_LIMIT]
        raise ProbeFailed(f"ffprobe exited {proc.returncode}: {reason}")
    return parse_ffprobe_json(stdout)


def _to_float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None
