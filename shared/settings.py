"""Process settings, read from the environment once, on demand (never at import)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DISCORD_API_BASE = "https://discord.com/api/v10"


class Settings(BaseSettings):
    """Every knob of the bot; docs/configuration.md lists them with their meaning."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Discord application
    discord_public_key: str = ""
    discord_application_id: str = ""
    discord_bot_token: SecretStr = SecretStr("")
    discord_api_base: str = DISCORD_API_BASE
    discord_gateway_url: str = ""
    discord_ca_file: str = ""

    # Job queue: SQS FIFO when a URL is set, else the in-process queue.
    jobs_queue_url: str = ""
    aws_region: str = "us-east-1"
    aws_endpoint_url: str = ""

    # State store: DynamoDB when a table is named, else an SQLite file (docs/state.md).
    state_table: str = ""
    sqlite_path: str = "./musicbot.sqlite3"
    lease_ttl_s: float = Field(default=15.0, ge=3)
    # Heartbeats and lease renewals share this period; keep it <= lease_ttl_s / 3 so two
    # renewals can fail before a lease expires.
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    # How often a playing guild's position is saved: a takeover resumes at most this far back.
    position_save_interval_s: float = Field(default=2.0, gt=0)
    max_queue_length: int = Field(default=500, ge=1, le=2000)
    history_length: int = Field(default=20, ge=0, le=200)

    # Interactions front door
    guild_allowlist: Annotated[frozenset[str], NoDecode] = frozenset()
    rate_limit_commands: int = Field(default=5, ge=1)
    rate_limit_window_s: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_query_length: int = Field(default=500, ge=1, le=2000)
    # Budget for handing a job to the queue: well under Discord's 3 s answer deadline.
    enqueue_timeout_s: float = Field(default=2.0, gt=0, le=2.5)
    # Bound on one state-store call of the front door (/queue, /settings, the DJ-role check):
    # the SDK's own retries against an unreachable store take seconds.
    store_timeout_s: float = Field(default=1.5, gt=0, le=2.5)
    # Refuse signed requests whose timestamp is further than this from now (0 = no check).
    # Discord sets no window; 900 s is an interaction token's lifetime, so older ones are useless.
    signature_max_age_s: float = Field(default=900.0, ge=0)

    # Sources
    allow_private_sources: bool = False
    # Budget for one yt-dlp lookup (a hung site is given up after this, the user told).
    source_resolve_timeout_s: float = Field(default=20.0, gt=0, le=120)
    # Tracks taken from one playlist link.
    source_max_playlist_items: int = Field(default=200, ge=1, le=500)
    # yt-dlp options an operator may need (docs/operations.md: "When YouTube blocks the worker").
    ytdlp_cookies_file: str = ""
    ytdlp_proxy: str = ""
    ytdlp_source_address: str = ""
    # JSON: {"youtube": {"player_client": ["web"]}}
    ytdlp_extractor_args: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    # Voice worker
    jobs_dead_letter_queue_url: str = ""
    # Where /health listens; `musicbot worker --check` asks the same address.
    worker_health_host: str = "127.0.0.1"
    worker_health_port: int = Field(default=8081, ge=0, le=65535)
    # SIGTERM: stop taking jobs, then give running ones this long before leaving voice.
    worker_shutdown_grace_s: float = Field(default=20.0, ge=0)
    # Leave voice after this long with nothing queued or nobody listening.
    worker_idle_disconnect_s: float = Field(default=300.0, gt=0)
    worker_voice_connect_timeout_s: float = Field(default=20.0, gt=0)
    # After READY, how long discord.py waits for more GUILD_CREATEs before it calls itself ready.
    worker_guild_ready_timeout_s: float = Field(default=2.0, ge=0)
    # Re-encode bitrate for non-Opus sources (discord.py's from_probe would use 512).
    worker_voice_bitrate_kbps: int = Field(default=96, ge=16, le=512)
    # Demux, decode, filter and encode audio in the worker's process (PyAV) rather than in an
    # ffmpeg child per guild: half the CPU and a tenth of the memory per stream. False is an
    # escape hatch (every stream through ffmpeg), not a tuning knob.
    worker_audio_in_process: bool = True
    # A job received more often than this is dead-lettered and the requester told once.
    worker_max_attempts: int = Field(default=4, ge=1, le=20)
    # Long-poll wait of the worker's SQS receives (shared queue and inbox); 20 is SQS's max.
    worker_receive_wait_s: float = Field(default=20.0, ge=0, le=20)

    # Fleet (cloud). The front door wakes this ECS service from zero when no worker is alive;
    # empty names turn waking off (embedded mode, tests).
    worker_cluster: str = ""
    worker_service: str = ""
    # How long a /play may spend checking heartbeats and waking the service (after enqueueing,
    # within Discord's 3 s); past it the command answers anyway and the queue alarm wakes later.
    wake_timeout_s: float = Field(default=1.0, gt=0, le=2.0)
    # Name of the SSM SecureString holding the bot token, for processes that need the token
    # but do not get it injected (the Lambda); never the token itself.
    discord_bot_token_parameter: str = ""
    # CloudWatch namespace for the worker's embedded-metric-format lines; empty = none.
    metrics_namespace: str = ""
    # How many guilds one worker plays at once before it stops claiming new ones.
    worker_max_guilds: int = Field(default=50, ge=1, le=2000)
    # A stable id for this worker (defaults to a random one per process).
    worker_id: str = ""

    # Logging
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("guild_allowlist", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def bot_token(self) -> str:
        """The bot token in clear, for the Authorization header only."""
        return self.discord_bot_token.get_secret_value()

    def secrets(self) -> list[str]:
        """Values the log redactor must never let through."""
        return [value for value in (self.bot_token,) if value]


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; each process calls this once in its bootstrap."""
    return Settings(**overrides)  # type: ignore[arg-type]
