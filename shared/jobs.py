"""The job contract between the interactions front door and the voice workers.

A job is one user action on one guild. Its id is the interaction id, so a redelivered or
replayed interaction maps to the same job and can be recognised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION: Literal[1] = 1

Snowflake = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class MalformedJob(ValueError):
    """A message that is not a job this version understands: dead-letter it, never retry."""


class Requester(BaseModel):
    """Who asked, as the interaction payload told us."""

    model_config = ConfigDict(frozen=True)

    user_id: Snowflake
    display_name: str = Field(default="", max_length=100)
    role_ids: tuple[Snowflake, ...] = ()
    permissions: str = "0"


class JobBase(BaseModel):
    """Fields every job carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    job_id: Snowflake
    guild_id: Snowflake
    channel_id: Snowflake
    application_id: Snowflake
    # Needed for the follow-up webhook; valid 15 minutes. Kept out of repr so it never reaches logs.
    interaction_token: str = Field(repr=False, min_length=1, max_length=1000)
    requester: Requester
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def log_fields(self) -> dict[str, str]:
        """Identifiers to bind to log lines (never the token)."""
        return {"job_id": self.job_id, "guild_id": self.guild_id, "kind": self.kind}  # type: ignore[attr-defined]


class PlayJob(JobBase):
    """Resolve a query and play it, or queue it when something is playing."""

    kind: Literal["play"] = "play"
    query: str = Field(min_length=1, max_length=2000)
    play_next: bool = False


class ControlJob(JobBase):
    """A transport control that needs the guild's voice session and takes no argument."""

    kind: Literal["skip", "stop", "pause", "resume", "leave"]


# New kinds are added without a schema_version bump: the version changes only when a field
# of an existing kind changes meaning. A kind is sent only for a registered command, and a
# command is registered only once its job is in WORKER_COMMANDS (see below).


class SearchJob(JobBase):
    """Search for the query and offer the top results in a select menu (/search)."""

    kind: Literal["search"] = "search"
    query: str = Field(min_length=1, max_length=2000)


class PlaylistLoadJob(JobBase):
    """Append a saved playlist's tracks to the queue (/playlist load, /play playlist:<name>)."""

    kind: Literal["playlist_load"] = "playlist_load"
    name: str = Field(min_length=1, max_length=100)


# Player commands with arguments. The front door validates them (1-based indexes, volume
# 0-150, …) and defines their slash commands, but registers a command only once its name is in
# WORKER_COMMANDS: a name is added there when the worker handles it.


class VolumeCommand(BaseModel):
    """Set the player volume, in percent of the source's loudness."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["volume"] = "volume"
    percent: int = Field(ge=0, le=150)


class SeekCommand(BaseModel):
    """Jump to a position of the track on air."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["seek"] = "seek"
    position_s: float = Field(ge=0, le=86_400)


class LoopCommand(BaseModel):
    """Repeat nothing, the track on air, or the whole queue."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["loop"] = "loop"
    mode: Literal["off", "track", "queue"]


class IndexCommand(BaseModel):
    """remove / skipto: one queue entry by its 1-based position."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["remove", "skipto"]
    index: int = Field(ge=1, le=2000)


class MoveCommand(BaseModel):
    """Move a queue entry from one 1-based position to another."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["move"] = "move"
    from_index: int = Field(ge=1, le=2000)
    to_index: int = Field(ge=1, le=2000)


class PlainCommand(BaseModel):
    """shuffle / clear / previous: no argument."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["shuffle", "clear", "previous"]


class FilterCommand(BaseModel):
    """An audio filter preset (the names of shared.state.models.GuildSettings.filter_preset)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["filter"] = "filter"
    preset: Literal["none", "bassboost", "nightcore", "vaporwave", "karaoke", "8d"]


class ToggleCommand(BaseModel):
    """autoplay / 247: turn a guild's player feature on or off (kept in its settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["autoplay", "247"]
    enabled: bool


PlayerCommand = Annotated[
    VolumeCommand
    | SeekCommand
    | LoopCommand
    | IndexCommand
    | MoveCommand
    | PlainCommand
    | FilterCommand
    | ToggleCommand,
    Field(discriminator="name"),
]


class PlayerCommandJob(JobBase):
    """A player command with validated arguments (volume, seek, loop, queue editing…)."""

    kind: Literal["command"] = "command"
    command: PlayerCommand


class CommandName(BaseModel):
    """Only the name of a player command (to recognise one this version does not know)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    name: str = Field(max_length=32)


class UnsupportedCommandJob(JobBase):
    """A player command this version does not know (sent by a newer front door during a
    rolling deploy): never sent, only decoded, so that the worker can say so politely."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["command"] = "command"
    command: CommandName


AnyJob = (
    PlayJob | ControlJob | PlayerCommandJob | SearchJob | PlaylistLoadJob | UnsupportedCommandJob
)
Job = Annotated[
    PlayJob | ControlJob | PlayerCommandJob | SearchJob | PlaylistLoadJob,
    Field(discriminator="kind"),
]
# Player command names the worker handles (the rest stay unregistered: see above).
PLAYER_COMMANDS: frozenset[str] = frozenset(
    {
        "loop",
        "shuffle",
        "remove",
        "move",
        "clear",
        "skipto",
        "previous",
        "volume",
        "seek",
        "filter",
        "autoplay",
        "247",
    }
)
WORKER_COMMANDS: frozenset[str] = frozenset(
    {"play", "skip", "stop", "pause", "resume", "leave", "search", *PLAYER_COMMANDS}
)

_JOB_ADAPTER: TypeAdapter[PlayJob | ControlJob | PlayerCommandJob | SearchJob | PlaylistLoadJob] = (
    TypeAdapter(Job)
)
# Every name of the PlayerCommand union: a known name with bad arguments is malformed.
_KNOWN_COMMANDS = frozenset(
    name
    for model in (
        VolumeCommand,
        SeekCommand,
        LoopCommand,
        IndexCommand,
        MoveCommand,
        PlainCommand,
        FilterCommand,
        ToggleCommand,
    )
    for name in get_args(model.model_fields["name"].annotation)
)


class JobEnvelope(BaseModel):
    """What a job of any kind and version carries to answer its interaction.

    Read from a body that is not a job this version understands (a kind added by a newer
    front door during a rolling deploy): the worker can still complete the user's deferred
    reply before it dead-letters the message.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: Snowflake
    guild_id: Snowflake
    application_id: Snowflake
    interaction_token: str = Field(repr=False, min_length=1, max_length=1000)
    kind: str = Field(default="", max_length=64)
    schema_version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def log_fields(self) -> dict[str, str]:
        """Identifiers to bind to log lines (never the token)."""
        return {"job_id": self.job_id, "guild_id": self.guild_id, "kind": self.kind}

    @property
    def from_newer_version(self) -> bool:
        """Whether the job is of a kind or schema this version doesn't know (vs. one it
        knows with invalid fields)."""
        return self.kind not in JOB_KINDS or self.schema_version != SCHEMA_VERSION


# Every kind this version decodes.
JOB_KINDS: frozenset[str] = frozenset(
    kind
    for model in (PlayJob, ControlJob, PlayerCommandJob, SearchJob, PlaylistLoadJob)
    for kind in get_args(model.model_fields["kind"].annotation)
)


def decode_envelope(body: str | bytes) -> JobEnvelope | None:
    """The envelope of a body decode_job refused, or None when even that is missing."""
    try:
        return JobEnvelope.model_validate_json(body)
    except ValidationError:
        return None


def encode_job(job: AnyJob) -> str:
    """Serialise a job for the queue (JSON text)."""
    return job.model_dump_json()


def decode_job(body: str | bytes) -> AnyJob:
    """Parse a queue message body, raising MalformedJob for anything that is not a valid job."""
    try:
        return _JOB_ADAPTER.validate_json(body)
    except ValidationError as exc:
        unknown = _unsupported_command(body)
        if unknown is not None:
            return unknown
        # The error text may echo the body (and its token): keep only locations and types.
        summary = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['type']}" for err in exc.errors()
        )
        raise MalformedJob(summary or "invalid job") from None


def _unsupported_command(body: str | bytes) -> UnsupportedCommandJob | None:
    """The job, when its only fault is a player command name this version does not know."""
    try:
        job = UnsupportedCommandJob.model_validate_json(body)
    except ValidationError:
        return None
    return None if job.command.name in _KNOWN_COMMANDS else job
