"""Player settings (/loop, /volume) and history for /previous in the state store, on both
backends (DynamoDB on moto, SQLite): written without clobbering the guild's other settings."""

from __future__ import annotations

from shared.state import GuildSettings, GuildState, LoopMode
from tests.integration.test_state_store import FakeClock
from tests.integration.test_worker_durable_state import (  # noqa: F401 - fixtures
    GUILD,
    StoreFactory,
    clock,
    item,
    open_store,
    owner,
    snapshot,
)
from voice_worker.durable_store import DurableSessionStore
from voice_worker.models import PlayerSettings


async def test_player_settings_are_saved_beside_the_admins_settings(
    open_store: StoreFactory,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    # GIVEN a guild whose admins set a DJ role and a max queue length
    store = open_store()
    await store.save_guild(
        GuildState(guild_id=GUILD, settings=GuildSettings(dj_role_id="55", max_queue_length=20))
    )
    ownership = owner(store, clock, "w1")
    assert await ownership.claim(GUILD) is not None
    sessions = DurableSessionStore(store, ownership.lease_of)

    # WHEN the worker saves loop=queue, volume 40 and a filter, then a snapshot of its queue
    player = PlayerSettings(loop="queue", volume=40, filter_preset="vaporwave")
    await sessions.save_player(GUILD, player)
    await sessions.save(snapshot(item(1), item(2)))

    # THEN both are stored, the other settings are untouched, and a session loads them back
    state = await store.get_guild(GUILD)
    assert state is not None
    assert (state.settings.loop, state.settings.volume) == (LoopMode.QUEUE, 40)
    assert state.settings.filter_preset == "vaporwave"
    assert (state.settings.dj_role_id, state.settings.max_queue_length) == ("55", 20)
    loaded = await DurableSessionStore(open_store()).load(GUILD)
    # ... with the admins' settings the worker reads (the DJ role for vote-skip, and the
    # guild's own queue bound, which the session applies)
    assert loaded is not None
    assert loaded.player == player.model_copy(update={"dj_role_id": "55", "max_queue_length": 20})


async def test_history_is_loaded_for_previous_and_loop_ends_with_the_session(
    open_store: StoreFactory,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    store = open_store()
    ownership = owner(store, clock, "w1")
    await ownership.claim(GUILD)
    sessions = DurableSessionStore(store, ownership.lease_of)
    await sessions.save_player(GUILD, PlayerSettings(loop="track", volume=80))
    await sessions.save(snapshot(item(1), item(2)))
    await sessions.save(snapshot(item(2)))

    loaded = await sessions.load(GUILD)
    assert loaded is not None and loaded.history == (item(1),)

    # WHEN the session ends on purpose (stop, leave, idle)
    await sessions.delete(GUILD)

    # THEN the loop is off for the next time, the volume and the history stay
    state = await store.get_guild(GUILD)
    assert state is not None
    assert (state.settings.loop, state.settings.volume) == (LoopMode.OFF, 80)
    assert [t.entry_id for t in state.history] == ["e1", "e2"]


async def test_a_worker_without_the_lease_does_not_write_settings(
    open_store: StoreFactory,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    store = open_store()
    ownership = owner(store, clock, "w1")  # never claims the guild
    await DurableSessionStore(store, ownership.lease_of).save_player(
        GUILD, PlayerSettings(volume=10)
    )
    assert await store.get_guild(GUILD) is None
