"""Who may do what, from the member in the payload and the guild's DJ role in the store.

Managers (Manage Server or Administrator) may do everything. DJ actions (stop, leave, clear,
deleting a playlist) need the guild's DJ role when one is set; with none set, everyone may,
so a new server works before its admins configure anything.
"""

from __future__ import annotations

from interactions import responses
from interactions.commands.base import Reply, Services
from interactions.commands.definitions import Access
from interactions.context import Interaction
from interactions.store_access import StoreDown

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5

NEED_MANAGER = "Only members with the Manage Server permission can change that."
CANT_CHECK = "I can't check your permissions right now, please try again in a moment."


def is_manager(permissions: str) -> bool:
    """Manage Server or Administrator in the member's computed permissions."""
    try:
        bits = int(permissions)
    except ValueError:
        return False
    return bool(bits & (ADMINISTRATOR | MANAGE_GUILD))


def need_dj(role_id: str) -> str:
    """The refusal naming the DJ role (a role mention; replies never ping)."""
    return f"Only members with the DJ role (<@&{role_id}>) or Manage Server can do that."


async def refusal(services: Services, interaction: Interaction, access: Access) -> Reply | None:
    """None when the member may go ahead, else the ephemeral refusal to answer with."""
    if access is Access.EVERYONE or is_manager(interaction.permissions):
        return None
    if access is Access.MANAGER:
        return Reply(responses.ephemeral(NEED_MANAGER), "forbidden")
    if services.store is None:
        return None  # no store, no DJ role can have been set
    assert interaction.guild_id is not None
    try:
        settings = await services.store.guild_settings(interaction.guild_id)
    except StoreDown:
        return Reply(responses.ephemeral(CANT_CHECK), "degraded")
    role = settings.dj_role_id
    if role is None or role in interaction.role_ids:
        return None
    return Reply(responses.ephemeral(need_dj(role)), "forbidden")
