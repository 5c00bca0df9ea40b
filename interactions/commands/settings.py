"""/settings show | set | reset: the guild's music settings, read and written in the store.

Anyone may look; changing needs Manage Server (the router checks). Values are checked here
with messages naming the setting and its range; the store's model checks them once more.
A running worker picks changes up the next time it loads the guild's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interactions import responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.status import NOT_AVAILABLE, UNREADABLE
from interactions.context import Interaction
from interactions.options import format_duration, parse_int, parse_switch, parse_time
from interactions.store_access import StoreDown
from interactions.validation import InvalidOption

if TYPE_CHECKING:
    from shared.state import GuildSettings

NOTHING_TO_SET = "Pick at least one setting to change (see the options of /settings set)."
_SNOWFLAKE_MAX = 20
# Option name -> (GuildSettings field, its default for /settings reset).
FIELDS: dict[str, tuple[str, Any]] = {
    "dj_role": ("dj_role_id", None),
    "vote_skip": ("vote_skip_ratio", 0.5),
    "max_queue": ("max_queue_length", None),
    "max_track_length": ("max_track_length_s", None),
    "volume": ("volume", 100),
    "idle_timeout": ("idle_timeout_s", 300),
    "announce_channel": ("announce_channel_id", None),
    "normalize": ("normalize_loudness", False),
}


def _snowflake(value: object, what: str) -> str:
    if isinstance(value, str) and value.isdigit() and len(value) <= _SNOWFLAKE_MAX:
        return value
    raise InvalidOption(f"Pick a {what} from the list.")


def parse_changes(options: dict[str, Any], *, deployment_max_queue: int) -> dict[str, Any]:
    """GuildSettings updates from /settings set's options; InvalidOption names the culprit."""
    changes: dict[str, Any] = {}
    if "dj_role" in options:
        changes["dj_role_id"] = _snowflake(options["dj_role"], "role")
    if "vote_skip" in options:
        percent = parse_int(options["vote_skip"], name="Vote-skip share", low=1, high=100)
        changes["vote_skip_ratio"] = percent / 100
    if "max_queue" in options:
        changes["max_queue_length"] = parse_int(
            options["max_queue"], name="Max queue length", low=1, high=deployment_max_queue
        )
    if "max_track_length" in options:
        seconds = parse_time(options["max_track_length"], what="max track length")
        if seconds < 1:
            raise InvalidOption("The max track length must be at least 1 second.")
        changes["max_track_length_s"] = int(seconds)
    if "volume" in options:
        changes["volume"] = parse_int(options["volume"], name="Volume", low=0, high=150)
    if "idle_timeout" in options:
        changes["idle_timeout_s"] = int(parse_time(options["idle_timeout"], what="idle timeout"))
    if "announce_channel" in options:
        changes["announce_channel_id"] = _snowflake(options["announce_channel"], "text channel")
    if "normalize" in options:
        changes["normalize_loudness"] = parse_switch(
            options["normalize"], name="Loudness normalisation"
        )
    return changes


def settings_embed(settings: GuildSettings, *, deployment_max_queue: int) -> dict[str, Any]:
    """Every setting the front door manages, with its current value."""
    queue = settings.max_queue_length
    track = settings.max_track_length_s

    def role(value: str | None) -> str:
        return f"<@&{value}>" if value else "not set (everyone may stop and clear)"

    rows = [
        ("DJ role", role(settings.dj_role_id)),
        ("Vote-skip share", f"{round(settings.vote_skip_ratio * 100)}% of listeners"),
        ("Max queue length", f"{queue} tracks" if queue else f"{deployment_max_queue} (default)"),
        ("Max track length", format_duration(track) if track else "no limit"),
        ("Default volume", f"{settings.volume}%"),
        (
            "Idle timeout",
            # 0: the longest the bot's operator allows (WORKER_IDLE_DISCONNECT_S); /247 stays.
            format_duration(settings.idle_timeout_s)
            if settings.idle_timeout_s
            else "as long as the bot allows",
        ),
        (
            "Announcements",
            f"<#{settings.announce_channel_id}>"
            if settings.announce_channel_id
            else "in the channel of the command",
        ),
        (
            "Loudness normalisation",
            "on" if settings.normalize_loudness else "off",
        ),
        ("Autoplay", "on" if settings.autoplay else "off (/autoplay)"),
        ("24/7", "on" if settings.stay_24_7 else "off (/247)"),
    ]
    return {
        "title": "Music settings",
        "color": display.COLOUR,
        "fields": [{"name": name, "value": value, "inline": True} for name, value in rows],
    }


async def settings(services: Services, interaction: Interaction) -> Reply:
    """Show, change or reset settings (the router has checked who may change them)."""
    store = services.store
    if store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    action = interaction.subcommand
    try:
        if action == "set":
            changes = parse_changes(
                dict(interaction.options), deployment_max_queue=services.max_queue_length
            )
            if not changes:
                return Reply(responses.ephemeral(NOTHING_TO_SET), "invalid_option")
            saved = await store.update_settings(interaction.guild_id, changes)
            title = "Settings saved"
        elif action == "reset":
            field = FIELDS.get(str(interaction.options.get("setting")))
            if field is None:
                raise InvalidOption("Pick the setting to reset from the list.")
            saved = await store.update_settings(interaction.guild_id, {field[0]: field[1]})
            title = "Setting reset"
        else:
            saved = await store.guild_settings(interaction.guild_id)
            title = "Music settings"
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    except StoreDown:
        return Reply(responses.ephemeral(UNREADABLE), "degraded")
    embed = settings_embed(saved, deployment_max_queue=services.max_queue_length)
    embed["title"] = title
    return Reply(responses.ephemeral_embed(embed), "answered")


COMMANDS_HANDLED = {"settings": settings}
