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

    # Interactions front door
    guild_allowlist: Annotated[frozenset[str], NoDecode] = frozenset()
    rate_limit_commands: int = Field(default=5, ge=1)
    rate_limit_window_s: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_query_length: int = Field(default=500, ge=1, le=2000)

    # Sources
    allow_private_sources: bool = False

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
