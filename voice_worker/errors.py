"""The worker's own exceptions; each says what happens next (answer, retry, or stop)."""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of the worker's exceptions."""


class UserFacingError(WorkerError):
    """The job can't be done as asked: tell the requester ``user_message`` and drop the job.

    ``reason`` is a stable code for logs. Source errors (voice_worker/sources/errors.py) are
    this too; this module imports nothing, so the sources package stays free of discord.py.
    """

    default_message = "That command couldn't be completed."

    def __init__(self, reason: str, user_message: str | None = None) -> None:
        self.reason = reason
        self.user_message = user_message or self.default_message
        super().__init__(f"{reason}: {self.user_message}")


class NotInVoice(UserFacingError):
    """The requester is in no voice channel of the guild."""

    default_message = "Join a voice channel first."


class VoiceChannelUnavailable(UserFacingError):
    """The bot may not join or speak in the requester's channel, or it is full."""

    default_message = "I can't join or speak in your voice channel."


class GuildUnavailable(UserFacingError):
    """The guild is not in this worker's gateway cache (bot not in the guild, or an outage)."""

    default_message = "I can't reach this server's voice right now. Please try again shortly."


class TransientError(WorkerError):
    """Something that a later attempt may get past: the job is retried with backoff."""


class GatewayNotReady(TransientError):
    """The gateway session is not connected (yet, or any more)."""


class VoiceConnectFailed(TransientError):
    """Joining the voice channel failed or timed out."""


class FatalConfigError(WorkerError):
    """The process is misconfigured and retrying can't help: log clearly and stop."""

    def __init__(self, reason: str, hint: str) -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(f"{reason}: {hint}")


def dave_required() -> FatalConfigError:
    """Voice close 4017: Discord requires DAVE end-to-end encryption and we lack it."""
    return FatalConfigError(
        "dave_required",
        "Discord closed voice with 4017 (DAVE required): install discord.py[voice] with davey.",
    )


def token_rejected() -> FatalConfigError:
    """Gateway close 4004 or HTTP 401 at login: the bot token is wrong."""
    return FatalConfigError(
        "token_rejected",
        "Discord rejected the bot token: set DISCORD_BOT_TOKEN to the application's bot token.",
    )
