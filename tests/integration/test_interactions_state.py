"""Commands answered from the state store, through the signed front door (ASGI and Mangum).

The state is written as the worker writes it, through shared.state's own backends: DynamoDB on
moto's server, and the SQLite file of a single-machine run.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interactions.commands.definitions import SPECS
from shared.jobs import ControlJob
from shared.state import (
    DynamoDbStateStore,
    GuildSettings,
    GuildState,
    NowPlaying,
    Playlist,
    QueuedTrack,
    SqliteStateStore,
    StateStore,
)
from tests.fixtures_aws import MotoServer
from tests.fixtures_interactions import (
    Answer,
    Door,
    DoorFactory,
    Signer,
    as_member,
    button,
    command,
    encode,
)

GUILD = "1300000000000000100"
REQUESTER = "1300000000000000500"
DJ_ROLE = "1300000000000000777"
MEMBER_ROLE = "1300000000000000400"  # the fixture member's role
MANAGE_GUILD = str(1 << 5)
EPHEMERAL = 64


@dataclass
class Backend:
    """A store the test writes through, and the settings that make the door read it."""

    store: StateStore
    settings: dict[str, Any]


@pytest.fixture(params=["dynamodb", "sqlite"])
async def backend(
    request: pytest.FixtureRequest, moto_server: MotoServer, tmp_path: Path
) -> AsyncIterator[Backend]:
    store: StateStore
    if request.param == "dynamodb":
        table = moto_server.create_state_table()
        store = DynamoDbStateStore(
            table, region=moto_server.region, endpoint_url=moto_server.endpoint_url
        )
        settings: dict[str, Any] = {
            "state_table": table,
            "aws_endpoint_url": moto_server.endpoint_url,
        }
    else:
        path = str(tmp_path / "musicbot.sqlite3")
        store = SqliteStateStore(path)
        settings = {"sqlite_path": path}
    yield Backend(store, settings)
    await store.aclose()


Post = Callable[[dict[str, Any]], Awaitable[Answer]]


@pytest.fixture
async def door(make_door: DoorFactory, backend: Backend) -> Door:
    return await make_door(**backend.settings)


@pytest.fixture
def post(door: Door, signer: Signer) -> Post:
    async def send(data: dict[str, Any]) -> Answer:
        body = encode(data)
        return await door.post(body, signer.headers(body))

    return send


def track(n: int, *, duration_s: float | None = 200.0) -> QueuedTrack:
    return QueuedTrack(
        entry_id=f"e{n}",
        query=f"song {n}",
        title=f"Song {n}",
        webpage_url=f"https://media.example/{n}",
        duration_s=duration_s,
        thumbnail=f"https://img.example/{n}.jpg",
        requester_id=REQUESTER,
        added_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def save(store: StateStore, **fields: Any) -> GuildState:
    current = await store.get_guild(GUILD) or GuildState(guild_id=GUILD)
    return await store.save_guild(current.model_copy(update=fields))


def ephemeral_text(answer: Answer) -> str:
    assert answer.status == 200 and answer.body["type"] == 4
    assert answer.body["data"]["flags"] == EPHEMERAL
    return str(answer.body["data"]["content"])


def embed_of(answer: Answer, *, response_type: int = 4) -> dict[str, Any]:
    assert answer.status == 200 and answer.body["type"] == response_type, answer.body
    embed: dict[str, Any] = answer.body["data"]["embeds"][0]
    return embed


def buttons(answer: Answer) -> list[dict[str, Any]]:
    return [b for row in answer.body["data"]["components"] for b in row["components"]]


# -- /queue ----------------------------------------------------------------------------------


async def test_queue_pages_through_the_stored_queue(backend: Backend, post: Post) -> None:
    # GIVEN a guild playing one track with 23 queued (one of unknown length)
    queue = tuple(track(n, duration_s=None if n == 23 else 200.0) for n in range(1, 24))
    playing = NowPlaying(track=track(0), position_s=30, paused=True)
    await save(backend.store, now_playing=playing, queue=queue)
    # WHEN /queue arrives
    answer = await post(command("queue"))
    # THEN page 1: the track on air, entries 1-10, the total, Previous off and Next to page 2
    embed = embed_of(answer)
    assert answer.body["data"]["flags"] == EPHEMERAL
    assert embed["title"] == "Queue · page 1/3"
    lines = embed["description"].splitlines()
    assert lines[0] == "**Now:** [Song 0](https://media.example/0) `0:30 / 3:20` (paused)"
    entries = [line for line in lines if line.startswith("`")]
    assert entries[0] == f"`1.` [Song 1](https://media.example/1) `3:20` · <@{REQUESTER}>"
    assert [e.split(".")[0] for e in entries] == [f"`{n}" for n in range(1, 11)]
    # 22 known tracks x 200 s = 4400 s
    assert embed["footer"]["text"] == "23 tracks queued · total 1:13:20 (+1 of unknown length)"
    previous, following = buttons(answer)
    assert (previous["custom_id"], previous["disabled"]) == ("queue:0", True)
    assert (following["custom_id"], following["disabled"]) == ("queue:2", False)

    # WHEN Next is pressed twice (the buttons' custom ids carry the page)
    second = await post(button("queue:2"))
    third = await post(button("queue:3"))
    # THEN the same message is replaced (type 7) by pages 2 and 3
    page2 = embed_of(second, response_type=7)
    assert page2["title"] == "Queue · page 2/3"
    assert "`11.` [Song 11]" in page2["description"] and "`21.`" not in page2["description"]
    assert [b["disabled"] for b in buttons(second)] == [False, False]
    page3 = embed_of(third, response_type=7)
    assert "`23.` [Song 23](https://media.example/23) `?`" in page3["description"]
    assert [b["disabled"] for b in buttons(third)] == [False, True]


async def test_queue_page_option_and_out_of_range_pages(backend: Backend, post: Post) -> None:
    await save(backend.store, queue=tuple(track(n) for n in range(1, 13)))
    # /queue page:2 opens at page 2; a stale button for page 9 shows the last page
    assert embed_of(await post(command("queue", page=2)))["title"] == "Queue · page 2/2"
    assert embed_of(await post(button("queue:9")), response_type=7)["title"] == ("Queue · page 2/2")
    # A hostile custom id is page 1, not an error
    assert embed_of(await post(button("queue:x")), response_type=7)["title"] == ("Queue · page 1/2")
    # A page outside the option's range is refused precisely
    assert ephemeral_text(await post(command("queue", page=0))) == (
        "Page must be from 1 to 200 (you gave 0)."
    )


async def test_empty_queue_and_nothing_playing(post: Post) -> None:
    # GIVEN a guild that never played
    assert ephemeral_text(await post(command("queue"))) == (
        "The queue is empty. Add something with /play."
    )
    assert ephemeral_text(await post(command("nowplaying"))) == "Nothing is playing."
    assert ephemeral_text(await post(command("history"))) == "Nothing has been played here yet."


# -- /nowplaying -----------------------------------------------------------------------------


async def test_nowplaying_shows_the_track_with_progress_and_buttons(
    backend: Backend, post: Post
) -> None:
    # GIVEN a paused track at 1:23 of 3:45, two tracks after it
    on_air = track(7, duration_s=225.0)
    await save(
        backend.store,
        now_playing=NowPlaying(track=on_air, position_s=83, paused=True),
        queue=(track(8), track(9)),
    )
    # WHEN /nowplaying arrives
    answer = await post(command("nowplaying"))
    # THEN an embed with title, link, thumbnail, requester, the bar, and Resume/Skip/Stop
    embed = embed_of(answer)
    assert embed["title"] == "Song 7"
    assert embed["url"] == "https://media.example/7"
    assert embed["thumbnail"] == {"url": "https://img.example/7.jpg"}
    assert embed["description"].startswith("⏸ Paused · ")
    assert embed["description"].endswith(" 1:23 / 3:45")
    assert "🔘" in embed["description"]
    assert {"name": "Requested by", "value": f"<@{REQUESTER}>", "inline": True} in embed["fields"]
    assert {"name": "Up next", "value": "2 in the queue", "inline": True} in embed["fields"]
    assert [(b["custom_id"], b["label"]) for b in buttons(answer)] == [
        ("player:resume", "Resume"),
        ("player:skip", "Skip"),
        ("player:stop", "Stop"),
        ("player:loop:track", "Loop: off"),  # the guild's loop mode; pressing sets the next
        ("player:shuffle", "Shuffle"),
    ]


async def test_nowplaying_extrapolates_a_playing_track(backend: Backend, post: Post) -> None:
    # GIVEN a track saved as playing at 0:10 ten minutes ago (it is 3:20 long)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    playing = NowPlaying(track=track(1), position_s=10, position_updated_at=long_ago)
    await save(backend.store, now_playing=playing)
    # THEN the position runs on, but never past the end; Pause is offered
    embed = embed_of(await post(command("nowplaying")))
    assert embed["description"].endswith(" 3:20 / 3:20")
    assert buttons(await post(command("nowplaying")))[0]["custom_id"] == "player:pause"


async def test_nowplaying_reads_the_workers_latest_position(backend: Backend, post: Post) -> None:
    # GIVEN the worker saved the state, then (holding the lease) a newer paused position
    await save(backend.store, now_playing=NowPlaying(track=track(1), position_s=5, paused=True))
    lease = await backend.store.acquire_lease(GUILD, "worker-1", ttl_s=30)
    assert lease is not None
    await backend.store.update_position(lease, entry_id="e1", position_s=100, paused=True)
    # THEN /nowplaying shows the newer position
    embed = embed_of(await post(command("nowplaying")))
    assert embed["description"].endswith(" 1:40 / 3:20")


async def test_a_live_stream_has_no_bar(backend: Backend, post: Post) -> None:
    live = track(1, duration_s=None)
    await save(backend.store, now_playing=NowPlaying(track=live, position_s=61, paused=True))
    assert embed_of(await post(command("nowplaying")))["description"] == (
        "⏸ Paused · 🔴 live · 1:01"
    )


async def test_titles_are_shown_literally(backend: Backend, post: Post) -> None:
    odd = track(1).model_copy(update={"title": "*NSYNC [live](x)", "webpage_url": "ftp://x"})
    await save(backend.store, queue=(odd,))
    description = embed_of(await post(command("queue")))["description"]
    assert r"`1.` \*NSYNC \[live\]\(x\) `3:20`" in description


# -- /history --------------------------------------------------------------------------------


async def test_history_lists_the_latest_first(backend: Backend, post: Post) -> None:
    await save(backend.store, history=tuple(track(n) for n in range(1, 13)))
    embed = embed_of(await post(command("history")))
    lines = embed["description"].splitlines()
    assert lines[0].startswith("`1.` [Song 12]")
    assert lines[9].startswith("`10.` [Song 3]")
    assert lines[10] == "…and 2 earlier"


# -- /playlist -------------------------------------------------------------------------------


async def save_playlist(store: StateStore, name: str, tracks: int) -> None:
    playlist = Playlist(
        guild_id=GUILD,
        name=name,
        tracks=tuple(track(n) for n in range(1, tracks + 1)),
        created_by=REQUESTER,
    )
    assert await store.save_playlist(playlist)


async def test_playlist_list_show_and_delete(backend: Backend, post: Post) -> None:
    # GIVEN two saved playlists
    await save_playlist(backend.store, "Road trip", 17)
    await save_playlist(backend.store, "chill", 1)
    # /playlist list
    listed = embed_of(await post(command("playlist", subcommand="list")))
    assert listed["description"] == "• chill\n• Road trip"
    # /playlist show (any case)
    shown = embed_of(await post(command("playlist", subcommand="show", name="ROAD TRIP")))
    assert shown["title"] == "Road trip"
    assert shown["description"].splitlines()[-1] == "…and 2 more"
    assert shown["footer"]["text"] == "17 tracks · total 56:40"
    # /playlist delete, by anyone while no DJ role is set
    deleted = await post(command("playlist", subcommand="delete", name="chill"))
    assert ephemeral_text(deleted) == "Deleted the playlist “chill”."
    assert await backend.store.list_playlists(GUILD) == ["Road trip"]
    missing = await post(command("playlist", subcommand="show", name="chill"))
    assert ephemeral_text(missing) == "There's no playlist called “chill”. See /playlist list."


async def test_playlist_name_autocomplete(backend: Backend, post: Post) -> None:
    await save_playlist(backend.store, "Road trip", 1)
    await save_playlist(backend.store, "chill", 1)
    data = command("playlist", subcommand="show", name="ro")
    data["type"] = 4
    data["data"]["options"][0]["options"][0]["focused"] = True
    answer = await post(data)
    assert answer.body == {
        "type": 8,
        "data": {"choices": [{"name": "Road trip", "value": "Road trip"}]},
    }


async def test_no_playlists_yet(post: Post) -> None:
    answer = await post(command("playlist", subcommand="list"))
    assert ephemeral_text(answer) == "This server has no saved playlists yet."


# -- permissions: the DJ role and Manage Server ------------------------------------------------


async def test_dj_actions_need_the_dj_role_once_one_is_set(
    backend: Backend, post: Post, door: Door
) -> None:
    # GIVEN a DJ role set for the guild, and a member without it (the fixture member)
    await save(backend.store, settings=GuildSettings(dj_role_id=DJ_ROLE))
    await save_playlist(backend.store, "keep", 1)
    refusal = f"Only members with the DJ role (<@&{DJ_ROLE}>) or Manage Server can do that."
    # WHEN they /stop, press the Stop button, /leave, or delete a playlist
    for data in (
        command("stop"),
        button("player:stop"),
        command("leave"),
        command("playlist", subcommand="delete", name="keep"),
    ):
        # THEN each is refused ephemerally, and nothing is queued or deleted
        assert ephemeral_text(await post(data)) == refusal
    assert await door.jobs() == []
    assert await backend.store.list_playlists(GUILD) == ["keep"]
    # Skipping and pausing stay open to everyone
    await post(command("skip"))
    await post(button("player:pause"))
    assert [job.kind for job in await door.jobs()] == ["skip", "pause"]

    # WHEN a member with the DJ role, then one with Manage Server, stops
    dj = as_member(command("stop"), roles=[MEMBER_ROLE, DJ_ROLE], permissions="0")
    manager = as_member(button("player:stop"), roles=[], permissions=MANAGE_GUILD)
    assert (await post(dj)).body == {"type": 5}
    assert (await post(manager)).body == {"type": 5, "data": {"flags": 64}}
    # THEN both stops are queued
    jobs = await door.jobs()
    assert [(type(j), j.kind) for j in jobs] == [(ControlJob, "stop"), (ControlJob, "stop")]


async def test_stop_is_open_to_everyone_without_a_dj_role(door: Door, post: Post) -> None:
    assert (await post(command("stop"))).body == {"type": 5}
    assert [job.kind for job in await door.jobs()] == ["stop"]


# -- /settings -------------------------------------------------------------------------------


async def test_settings_are_shown_to_everyone_and_changed_by_managers(
    backend: Backend, post: Post
) -> None:
    # GIVEN a guild with default settings and a worker-saved queue
    await save(backend.store, queue=(track(1),))
    # /settings show, by anyone
    shown = embed_of(await post(command("settings", subcommand="show")))
    values = {field["name"]: field["value"] for field in shown["fields"]}
    assert values["DJ role"] == "not set (everyone may stop and clear)"
    assert values["Default volume"] == "100%"
    assert values["Idle timeout"] == "5:00"
    # A member without Manage Server may not change them
    change = command(
        "settings",
        subcommand="set",
        dj_role=DJ_ROLE,
        vote_skip=60,
        max_queue=50,
        max_track_length="10:00",
        volume=80,
        idle_timeout="90",
        announce_channel="1300000000000000200",
    )
    refused = await post(change)
    assert ephemeral_text(refused) == (
        "Only members with the Manage Server permission can change that."
    )
    assert (await backend.store.get_guild(GUILD)).settings == GuildSettings()  # type: ignore[union-attr]
    # A manager may
    saved = await post(as_member(change, roles=[], permissions=MANAGE_GUILD))
    embed = embed_of(saved)
    assert embed["title"] == "Settings saved"
    state = await backend.store.get_guild(GUILD)
    assert state is not None
    assert state.settings == GuildSettings(
        dj_role_id=DJ_ROLE,
        vote_skip_ratio=0.6,
        max_queue_length=50,
        max_track_length_s=600,
        volume=80,
        idle_timeout_s=90,
        announce_channel_id="1300000000000000200",
    )
    assert state.queue == (track(1),)  # the worker's queue is untouched
    # /settings reset puts one back
    reset = as_member(
        command("settings", subcommand="reset", setting="dj_role"), roles=[], permissions="8"
    )
    assert embed_of(await post(reset))["title"] == "Setting reset"
    state = await backend.store.get_guild(GUILD)
    assert state is not None and state.settings.dj_role_id is None
    assert state.settings.volume == 80


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"volume": 151}, "Volume must be from 0 to 150 (you gave 151)."),
        ({"vote_skip": 0}, "Vote-skip share must be from 1 to 100 (you gave 0)."),
        ({"max_queue": 501}, "Max queue length must be from 1 to 500 (you gave 501)."),
        (
            {"max_track_length": "ten minutes"},
            "Give the max track length as mm:ss or seconds, like 1:30 or 90.",
        ),
        ({"idle_timeout": "1:75"}, "1:75 isn't a time: seconds (and minutes) go up to 59."),
        ({"dj_role": "everyone"}, "Pick a role from the list."),
        ({}, "Pick at least one setting to change (see the options of /settings set)."),
    ],
)
async def test_bad_settings_are_refused_precisely(
    backend: Backend, post: Post, options: dict[str, Any], message: str
) -> None:
    data = as_member(
        command("settings", subcommand="set", **options), roles=[], permissions=MANAGE_GUILD
    )
    assert ephemeral_text(await post(data)) == message
    assert await backend.store.get_guild(GUILD) is None  # nothing was written


def test_every_registered_store_command_is_covered() -> None:
    # The commands answered from the store, as registered: a new one needs tests here.
    answered_here = {"queue", "nowplaying", "history", "playlist", "settings"}
    assert answered_here <= {name for name, spec in SPECS.items() if spec.needs_worker is None}


async def test_an_unreachable_store_is_said_plainly(make_door: DoorFactory, signer: Signer) -> None:
    # GIVEN a state table on an endpoint nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    door = await make_door(
        state_table="state",
        aws_endpoint_url=f"http://127.0.0.1:{port}",
        store_timeout_s=0.3,  # the SDK would retry for seconds
    )

    async def send(data: dict[str, Any]) -> Answer:
        body = encode(data)
        return await door.post(body, signer.headers(body))

    unreadable = "I can't see the player's state right now, please try again in a moment."
    # THEN the commands answered from the store say so, ephemerally
    for data in (command("queue"), command("nowplaying"), command("history")):
        assert ephemeral_text(await send(data)) == unreadable
    assert ephemeral_text(await send(command("playlist", subcommand="list"))) == unreadable
    # A DJ action by a plain member can't be checked: refused, nothing queued
    assert ephemeral_text(await send(command("stop"))) == (
        "I can't check your permissions right now, please try again in a moment."
    )
    assert await door.jobs() == []
    # A manager needs no lookup: the stop goes through
    manager = as_member(command("stop"), roles=[], permissions=MANAGE_GUILD)
    assert (await send(manager)).body == {"type": 5}
    assert [job.kind for job in await door.jobs()] == ["stop"]
