"""JSON payload builders: the objects Discord sends, shaped by its OpenAPI response schemas."""

from __future__ import annotations

from typing import Any

from fake_discord.world import Channel, Guild, Member, Role, User, VoiceState, iso_now

JSON = dict[str, Any]

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def user_payload(user: User) -> JSON:
    """A UserResponse."""
    payload: JSON = {
        "id": user.id,
        "username": user.username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": None if user.bot else user.username.title(),
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
        "banner": None,
        "accent_color": None,
    }
    if user.bot:
        payload["bot"] = True
    return payload


def me_payload(user: User) -> JSON:
    """A UserPIIResponse for ``GET /users/@me`` with a bot token."""
    return {
        **user_payload(user),
        "mfa_enabled": True,
        "locale": "en-US",
        "premium_type": 0,
        "email": None,
        "verified": True,
    }


def application_payload(
    application_id: str, bot: User, owner: User, public_key_hex: str, interactions_url: str | None
) -> JSON:
    """A PrivateApplicationResponse for ``GET /oauth2/applications/@me``."""
    return {
        "id": application_id,
        "name": bot.username,
        "icon": None,
        "description": "",
        "type": None,
        "bot": user_payload(bot),
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": public_key_hex,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": interactions_url,
        "role_connections_verification_url": None,
        "owner": user_payload(owner),
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": [],
        "rpc_origins": [],
        "tags": [],
        "integration_types_config": {"0": {}},
    }


def member_payload(member: Member, *, permissions: int | None = None) -> JSON:
    """A GuildMemberResponse (with ``permissions`` when it rides in an interaction)."""
    payload: JSON = {
        "user": user_payload(member.user),
        "roles": list(member.role_ids),
        "joined_at": member.joined_at,
        "nick": None,
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "collectibles": None,
        "communication_disabled_until": None,
        "flags": 0,
        "pending": False,
        "premium_since": None,
        "mute": False,
        "deaf": False,
    }
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def role_payload(role: Role) -> JSON:
    """A GuildRoleResponse."""
    return {
        "id": role.id,
        "name": role.name,
        "description": None,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def channel_payload(channel: Channel) -> JSON:
    """A guild channel object (text or voice)."""
    payload: JSON = {
        "id": channel.id,
        "guild_id": channel.guild_id,
        "type": channel.type,
        "name": channel.name,
        "position": channel.position,
        "flags": 0,
        "parent_id": None,
        "nsfw": False,
        "permission_overwrites": [
            {"id": o.id, "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.overwrites
        ],
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }
    if channel.type == 2:
        payload.update(bitrate=channel.bitrate, user_limit=channel.user_limit, rtc_region=None)
    else:
        payload.update(topic=None)
    return payload


def voice_state_payload(guild: Guild, state: VoiceState | None, user_id: str) -> JSON:
    """A VoiceStateResponse; ``state=None`` is the 'left voice' form (null channel)."""
    return {
        "guild_id": guild.id,
        "channel_id": state.channel_id if state else None,
        "user_id": user_id,
        "session_id": state.session_id if state else "",
        "member": member_payload(guild.members[user_id]),
        "deaf": False,
        "mute": False,
        "self_deaf": state.self_deaf if state else False,
        "self_mute": state.self_mute if state else False,
        "self_stream": False,
        "self_video": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }


def guild_create_payload(guild: Guild, *, voice_intent: bool, members_intent: bool) -> JSON:
    """GUILD_CREATE: members are the bot plus (with the intent) users in voice, as on Discord."""
    in_voice = set(guild.voice_states) if voice_intent else set()
    members = [
        member_payload(m)
        for uid, m in guild.members.items()
        if members_intent or m.user.bot or uid in in_voice
    ]
    voice_states = []
    if voice_intent:
        for state in guild.voice_states.values():
            payload = voice_state_payload(guild, state, state.user_id)
            del payload["member"], payload["guild_id"]
            voice_states.append(payload)
    return {
        "id": guild.id,
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": guild.owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "system_channel_id": guild.text_channel_id,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "features": [],
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "soundboard_sounds": [],
        "joined_at": next(m.joined_at for m in guild.members.values() if m.user.bot),
        "large": False,
        "unavailable": False,
        "member_count": len(guild.members),
        "max_members": 500000,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "application_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "lazy": True,
        "channels": [channel_payload(c) for c in guild.channels.values()],
        "threads": [],
        "members": members,
        "voice_states": voice_states,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "embedded_activities": [],
    }


def message_payload(
    message_id: str,
    channel_id: str,
    author: User,
    body: JSON,
    *,
    flags: int = 0,
    application_id: str | None = None,
    interaction: JSON | None = None,
) -> JSON:
    """A MessageResponse built from a create request body."""
    payload: JSON = {
        "id": message_id,
        "channel_id": channel_id,
        "type": 0 if interaction is None else 20,
        "author": user_payload(author),
        "content": body.get("content") or "",
        "embeds": [_embed_response(e) for e in body.get("embeds") or []],
        "components": list(body.get("components") or []),
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": bool(body.get("tts", False)),
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "flags": flags | int(body.get("flags") or 0),
    }
    if application_id is not None:
        payload["application_id"] = application_id
        payload["webhook_id"] = application_id
    if interaction is not None:
        payload["interaction_metadata"] = interaction
    return payload


def apply_message_edit(message: JSON, body: JSON) -> None:
    """Apply a PATCH body to a stored message, as Discord does (only given fields change)."""
    if "content" in body:
        message["content"] = body["content"] or ""
    if "embeds" in body:
        message["embeds"] = [_embed_response(e) for e in body["embeds"] or []]
    if "components" in body:
        message["components"] = list(body["components"] or [])
    if body.get("flags") is not None:
        # Only SUPPRESS_EMBEDS (1 << 2) may be toggled on edit; ephemeral stays as it was.
        keep = message["flags"] & ~(1 << 2) & ~MESSAGE_FLAG_LOADING
        message["flags"] = keep | (int(body["flags"]) & (1 << 2))
    was_loading = bool(message["flags"] & MESSAGE_FLAG_LOADING)
    message["flags"] &= ~MESSAGE_FLAG_LOADING
    if not was_loading:
        message["edited_timestamp"] = iso_now()


def _embed_response(embed: JSON) -> JSON:
    return {"type": "rich", **{k: v for k, v in embed.items() if v is not None}}


def is_empty_message(body: JSON, has_files: bool) -> bool:
    """Discord's 50006 rule: a new message needs content, an embed, components, a poll or a file."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or has_files
    )


def command_payload(
    body: JSON, command_id: str, application_id: str, version: str, guild_id: str | None
) -> JSON:
    """An ApplicationCommandResponse from one entry of a bulk-overwrite body."""
    payload: JSON = {
        "id": command_id,
        "application_id": application_id,
        "version": version,
        "type": body.get("type") or 1,
        "name": body["name"],
        "description": body.get("description") or "",
        "default_member_permissions": body.get("default_member_permissions"),
        "dm_permission": body.get("dm_permission", True),
        "nsfw": False,
        "options": body.get("options") or [],
        "integration_types": body.get("integration_types") or [0],
        "contexts": body.get("contexts"),
        "name_localizations": body.get("name_localizations"),
        "description_localizations": body.get("description_localizations"),
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
    return payload
