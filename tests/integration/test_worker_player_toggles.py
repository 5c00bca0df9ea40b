"""The worker's side of the guild settings (DynamoDB on moto, and SQLite): it loads what
/settings changed (normalisation, vote-skip share, DJ role) and saves only its own toggles."""

from __future__ import annotations

from shared.state import GuildSettings, GuildState
from tests.integration.test_worker_durable_state import (  # noqa: F401 - fixtures
    GUILD,
    StoreFactory,
    clock,
    open_store,
)
from voice_worker.durable_store import DurableSessionStore
from voice_worker.models import PlayerSettings


async def test_front_door_settings_are_loaded_and_never_written_back(
    open_store: StoreFactory,  # noqa: F811 - the imported fixture
) -> None:
    # GIVEN settings changed by /settings (the front door writes the guild's state)
    store = open_store()
    changed = GuildSettings(normalize_loudness=True, vote_skip_ratio=0.75, dj_role_id="55")
    await store.save_guild(GuildState(guild_id=GUILD, settings=changed))
    sessions = DurableSessionStore(store)

    # WHEN a worker loads the guild, THEN its player sees them
    loaded = await sessions.load(GUILD)
    assert loaded is not None
    player = loaded.player
    assert (player.normalize_loudness, player.vote_skip_ratio, player.dj_role_id) == (
        True,
        0.75,
        "55",
    )

    # WHEN a session holding stale values saves its own toggles (/autoplay, /247)
    await sessions.save_player(GUILD, PlayerSettings(autoplay=True, stay_24_7=True))

    # THEN those are stored and the front door's settings are left as they were
    state = await store.get_guild(GUILD)
    assert state is not None
    assert state.settings.autoplay and state.settings.stay_24_7
    assert state.settings.normalize_loudness is True
    assert state.settings.vote_skip_ratio == 0.75
    assert state.settings.dj_role_id == "55"
    assert state.has_work  # 24/7: another worker takes the guild over even when idle
