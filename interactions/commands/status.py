"""/queue and /nowplaying: answered at once from the state store, with buttons.

/queue pages through the queue, ten tracks a page; its Previous/Next buttons carry the page
in their custom_id (`queue:<page>`) and are answered by replacing the message (type 7), read
afresh from the store. /nowplaying shows the track on air with its position extrapolated from
the last saved one, and player buttons (routed like the commands they stand for), rendered by
display.now_playing_view exactly like the worker's now-playing message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from interactions import responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.display import Embed, Rows, now_playing_view
from interactions.context import Interaction
from interactions.options import format_duration, parse_int
from interactions.store_access import StoreDown
from interactions.validation import InvalidOption

if TYPE_CHECKING:
    from shared.state import GuildState

log = structlog.get_logger(__name__)

NOT_AVAILABLE = "I can't show that yet: use the player's messages in this channel for now."
UNREADABLE = "I can't see the player's state right now, please try again in a moment."
EMPTY = "The queue is empty. Add something with /play."
NOTHING_PLAYING = "Nothing is playing."
QUEUE_PAGE_PREFIX = "queue:"


async def read_state(services: Services, guild_id: str) -> GuildState | Reply | None:
    """The guild's state, or the Reply to give when the store is absent or unreadable."""
    assert services.store is not None
    try:
        return await services.store.guild(guild_id)
    except StoreDown:
        return Reply(responses.ephemeral(UNREADABLE), "degraded")


# -- /queue ------------------------------------------------------------------------------------


def queue_view(state: GuildState | None, page: int, now: datetime) -> tuple[Embed, Rows]:
    """The /queue embed for one page, and its Previous/Next row."""
    queue = state.queue if state is not None else ()
    playing = state.now_playing if state is not None else None
    page = display.clamp_page(page, len(queue))
    pages = display.page_count(len(queue))
    lines: list[str] = []
    if playing is not None:
        position = format_duration(playing.position_at(now))
        paused = " (paused)" if playing.paused else ""
        lines.append(
            f"**Now:** {display.track_link(playing.track)} "
            f"`{position} / {display.track_length(playing.track)}`{paused}"
        )
        lines.append("")
    first = (page - 1) * display.PAGE_SIZE
    for number, track in enumerate(queue[first : first + display.PAGE_SIZE], first + 1):
        lines.append(
            f"`{number}.` {display.track_link(track)} `{display.track_length(track)}` "
            f"· <@{track.requester_id}>"
        )
    if not queue:
        lines.append("Nothing queued after this one." if playing else EMPTY)
    embed = {
        "title": "Queue" if pages == 1 else f"Queue · page {page}/{pages}",
        "description": responses.truncate("\n".join(lines), 4096),
        "color": display.COLOUR,
        "footer": {
            "text": f"{len(queue)} track{'s' if len(queue) != 1 else ''} queued · "
            f"total {display.total_length(queue)}"
        },
    }
    row = responses.action_row(
        responses.button(f"{QUEUE_PAGE_PREFIX}{page - 1}", "◀ Previous", disabled=page <= 1),
        responses.button(f"{QUEUE_PAGE_PREFIX}{page + 1}", "Next ▶", disabled=page >= pages),
    )
    return embed, [row]


async def show_queue(services: Services, interaction: Interaction) -> Reply:
    """/queue [page]: one page of the queue, with Previous/Next buttons."""
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    raw_page = interaction.options.get("page", 1)
    try:
        page = parse_int(raw_page, name="Page", low=1, high=200)
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    assert interaction.guild_id is not None
    state = await read_state(services, interaction.guild_id)
    if isinstance(state, Reply):
        return state
    if state is None or (state.now_playing is None and not state.queue):
        return Reply(responses.ephemeral(EMPTY), "answered")
    embed, components = queue_view(state, page, datetime.now(UTC))
    return Reply(responses.ephemeral_embed(embed, components), "answered")


async def queue_page(services: Services, interaction: Interaction) -> Reply:
    """A Previous/Next press: the same message, now showing the asked-for page."""
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    raw = (interaction.custom_id or "").removeprefix(QUEUE_PAGE_PREFIX)
    page = int(raw) if raw.isdigit() and len(raw) < 6 else 1
    assert interaction.guild_id is not None
    state = await read_state(services, interaction.guild_id)
    if isinstance(state, Reply):
        return state
    embed, components = queue_view(state, page, datetime.now(UTC))
    return Reply(responses.update_message(embed, components), "answered")


# -- /nowplaying -------------------------------------------------------------------------------


async def show_now_playing(services: Services, interaction: Interaction) -> Reply:
    """/nowplaying: the track on air, where it is, and buttons to control it."""
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    state = await read_state(services, interaction.guild_id)
    if isinstance(state, Reply):
        return state
    if state is None or state.now_playing is None:
        return Reply(responses.ephemeral(NOTHING_PLAYING), "answered")
    embed, components = now_playing_view(
        state.now_playing, len(state.queue), datetime.now(UTC), loop=state.settings.loop.value
    )
    return Reply(responses.ephemeral_embed(embed, components), "answered")


COMMANDS_HANDLED = {"queue": show_queue, "nowplaying": show_now_playing}
