"""/history: the tracks played most recently in the guild, newest first, from the store."""

from __future__ import annotations

from interactions import responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.status import NOT_AVAILABLE, read_state
from interactions.context import Interaction

SHOWN = 10
NOTHING_YET = "Nothing has been played here yet."


async def show_history(services: Services, interaction: Interaction) -> Reply:
    """Answer at once with the last tracks played."""
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    state = await read_state(services, interaction.guild_id)
    if isinstance(state, Reply):
        return state
    played = tuple(reversed(state.history)) if state is not None else ()
    if not played:
        return Reply(responses.ephemeral(NOTHING_YET), "answered")
    lines = [
        f"`{n}.` {display.track_link(track)} `{display.track_length(track)}` "
        f"· <@{track.requester_id}>"
        for n, track in enumerate(played[:SHOWN], 1)
    ]
    if len(played) > SHOWN:
        lines.append(f"…and {len(played) - SHOWN} earlier")
    embed = {
        "title": "Recently played",
        "description": responses.truncate("\n".join(lines), 4096),
        "color": display.COLOUR,
    }
    return Reply(responses.ephemeral_embed(embed), "answered")


COMMANDS_HANDLED = {"history": show_history}
