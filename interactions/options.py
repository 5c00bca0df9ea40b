"""Parsing typed option values into what a command needs, with messages users can act on.

Discord's client enforces an option's type and bounds, but a stale definition or another
client may not: every value is checked again here. Each error message says what is expected.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from interactions.validation import InvalidOption

_CLOCK = re.compile(r"^(?:(\d{1,2}):)?(\d{1,3}):(\d{1,2})$")
_SECONDS = re.compile(r"^\d{1,6}(?:\.\d{1,3})?$")
LoopMode = Literal["off", "track", "queue"]
LOOP_MODES: tuple[LoopMode, ...] = ("off", "track", "queue")
_ON = frozenset({"on", "yes", "true", "1"})
_OFF = frozenset({"off", "no", "false", "0"})


def parse_time(value: object, *, what: str = "time", max_s: float = 86_400) -> float:
    """Seconds from "mm:ss", "h:mm:ss" or plain seconds ("90", "90.5")."""
    example = f"Give the {what} as mm:ss or seconds, like 1:30 or 90."
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidOption(example)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        clock = _CLOCK.match(text)
        if clock:
            hours, minutes, secs = (int(part) if part else 0 for part in clock.groups())
            if secs >= 60 or (hours and minutes >= 60):
                raise InvalidOption(f"{text} isn't a time: seconds (and minutes) go up to 59.")
            seconds = float(hours * 3600 + minutes * 60 + secs)
        elif _SECONDS.match(text):
            seconds = float(text)
        else:
            raise InvalidOption(example)
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidOption(example)
    if seconds > max_s:
        raise InvalidOption(f"That {what} is too long: at most {format_duration(max_s)}.")
    return seconds


def parse_int(value: object, *, name: str, low: int, high: int) -> int:
    """An integer within [low, high]; a message naming the option and the range otherwise."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 12:
        value = int(value.strip())
    # Discord's integers stop at 2**53; anything far out is not worth echoing back.
    if not isinstance(value, int) or abs(value) > 2**53:
        raise InvalidOption(f"{name} must be a whole number from {low} to {high}.")
    if not low <= value <= high:
        raise InvalidOption(f"{name} must be from {low} to {high} (you gave {value}).")
    return value


def parse_index(value: object, *, name: str = "position", length: int | None = None) -> int:
    """A 1-based queue position; when the queue's length is known, one that exists."""
    index = parse_int(value, name=name.capitalize(), low=1, high=2000)
    if length is not None and index > length:
        if length == 0:
            raise InvalidOption("The queue is empty.")
        raise InvalidOption(f"There are only {length} tracks in the queue: pick 1 to {length}.")
    return index


def parse_volume(value: object) -> int:
    """A volume in percent, 0-150."""
    return parse_int(value, name="Volume", low=0, high=150)


def parse_loop(value: object) -> LoopMode:
    """off | track | queue."""
    text = value.strip().lower() if isinstance(value, str) else ""
    for mode in LOOP_MODES:
        if text == mode:
            return mode
    raise InvalidOption("Loop mode must be off, track or queue.")


def parse_switch(value: object, *, name: str) -> bool:
    """on | off (a boolean option, or its text)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else ""
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise InvalidOption(f"{name} must be on or off.")


def format_duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour; "live" for an unknown length."""
    if seconds is None or not math.isfinite(seconds):
        return "live"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
