"""/search, the search menu's choices, /playlist save | load and /play's autocomplete at the
front door: what is answered at once, what is queued, over DynamoDB (moto) and SQLite stores.
Every answer is checked against Discord's OpenAPI spec by the door fixture."""

from __future__ import annotations

import asyncio
import copy
import socket
from typing import Any

import pytest

from interactions.commands.enqueue import PLAYER_STARTING
from interactions.commands.search import RESULTS_COMING
from shared.jobs import PlayJob, PlaylistLoadJob, SearchJob
from shared.state import DynamoDbStateStore, GuildSettings, NowPlaying, Playlist
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
    payload,
)
from tests.integration.test_interactions_state import (
    DJ_ROLE,
    EPHEMERAL,
    GUILD,
    MANAGE_GUILD,
    MEMBER_ROLE,
    REQUESTER,
    Backend,
    Post,
    backend,
    door,
    ephemeral_text,
    post,
    save,
    save_playlist,
    track,
)
from tests.integration.test_interactions_wake import desired, fleet

# Fixtures shared with other suites (imported so pytest finds them here).
__all__ = ["backend", "door", "fleet", "post"]

OTHER_MEMBER = "1300000000000000999"
SEARCH_PAGE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def select_choice(values: list[Any], *, label: str = "Never Gonna Give You Up") -> dict[str, Any]:
    """A choice in a /search menu, as Discord sends it, with the menu's message."""
    data = button("search:1300000000000000700")
    data["data"] = {
        "component_type": 3,
        "custom_id": "search:1300000000000000700",
        "values": values,
    }
    option = {"label": label, "value": SEARCH_PAGE, "description": "3:33"}
    data["message"] = copy.deepcopy(data.get("message") or {})
    data["message"]["components"] = [
        {
            "type": 1,
            "components": [
                {"type": 3, "custom_id": "search:1300000000000000700", "options": [option]}
            ],
        }
    ]
    return data


def autocomplete(typed: str) -> dict[str, Any]:
    data = payload("play_autocomplete", id="1300000000000000888")
    data["data"]["options"][0]["value"] = typed
    return data


# -- /search ---------------------------------------------------------------------------------


async def test_search_defers_privately_and_queues_a_search_job(door: Door, post: Post) -> None:
    answer = await post(command("search", query="  never   gonna "))
    assert answer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    [job] = await door.jobs()
    assert isinstance(job, SearchJob) and job.query == "never gonna"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Tell me what to search for: a few words, like a song name."),
        ("https://example.com/a.mp3", "That's a link: use /play to play it. /search takes words."),
        ("javascript:alert(1)", "I can only play web links (http or https), or a song name."),
        ("x" * 501, "That's too long: keep it under 500 characters."),
    ],
)
async def test_search_refusals_are_answered_at_once(
    door: Door, post: Post, query: str, message: str
) -> None:
    assert ephemeral_text(await post(command("search", query=query))) == message
    assert await door.jobs() == []


async def test_a_choice_from_the_menu_queues_that_link_and_replaces_the_menu(
    door: Door, post: Post
) -> None:
    answer = await post(select_choice([SEARCH_PAGE]))
    assert answer.body == {
        "type": 7,
        "data": {
            "content": "Queued **Never Gonna Give You Up**.",
            "allowed_mentions": {"parse": []},
            "components": [],
        },
    }
    [job] = await door.jobs()
    assert isinstance(job, PlayJob) and job.query == SEARCH_PAGE and not job.play_next


@pytest.mark.parametrize(
    "values",
    [
        ["http://169.254.169.254/latest/meta-data/"],
        ["http://localhost:8080/admin"],
        ["file:///etc/passwd"],
        ["never gonna"],
        [SEARCH_PAGE, SEARCH_PAGE],
        [],
        [17],
    ],
)
async def test_a_forged_choice_is_refused(door: Door, post: Post, values: list[Any]) -> None:
    answer = await post(select_choice(values))
    assert ephemeral_text(answer) == "I can't play that choice. Try /search again."
    assert await door.jobs() == []


# -- /playlist save --------------------------------------------------------------------------


async def test_save_keeps_the_track_on_air_and_the_queue(backend: Backend, post: Post) -> None:
    await save(
        backend.store,
        now_playing=NowPlaying(track=track(1), position_s=10.0),
        queue=(track(2), track(3)),
    )
    answer = await post(command("playlist", subcommand="save", name="  Road   trip "))
    assert ephemeral_text(answer) == "Saved the playlist “Road trip” (3 tracks)."
    saved = await backend.store.get_playlist(GUILD, "road trip")
    assert saved is not None and saved.created_by == REQUESTER
    assert [t.title for t in saved.tracks] == ["Song 1", "Song 2", "Song 3"]


async def test_save_with_nothing_playing_is_refused(backend: Backend, post: Post) -> None:
    answer = await post(command("playlist", subcommand="save", name="empty"))
    assert ephemeral_text(answer) == "There's nothing to save: nothing is playing or queued."
    assert await backend.store.list_playlists(GUILD) == []


async def test_replacing_someone_elses_playlist_needs_dj(backend: Backend, post: Post) -> None:
    # GIVEN a DJ role, a queue, and a playlist the fixture member saved
    await save(backend.store, settings=GuildSettings(dj_role_id=DJ_ROLE), queue=(track(7),))
    await save_playlist(backend.store, "mine", 2)

    # The member who saved it may replace it
    own = await post(command("playlist", subcommand="save", name="MINE"))
    assert ephemeral_text(own) == "Replaced the playlist “MINE” (1 track)."

    # Another member without the DJ role may not
    other = command("playlist", subcommand="save", name="mine")
    other["member"]["user"]["id"] = OTHER_MEMBER
    refused = await post(as_member(other, roles=[MEMBER_ROLE], permissions="0"))
    assert ephemeral_text(refused) == (
        f"“MINE” was saved by <@{REQUESTER}>: only they, a DJ or a server manager can replace "
        "it. Pick another name."
    )
    kept = await backend.store.get_playlist(GUILD, "mine")
    assert kept is not None and kept.created_by == REQUESTER

    # A DJ and a manager may
    dj = as_member(copy.deepcopy(other), roles=[DJ_ROLE], permissions="0")
    assert ephemeral_text(await post(dj)).startswith("Replaced the playlist “mine”")
    manager = as_member(copy.deepcopy(other), roles=[], permissions=MANAGE_GUILD)
    assert ephemeral_text(await post(manager)).startswith("Replaced the playlist “mine”")
    replaced = await backend.store.get_playlist(GUILD, "mine")
    assert replaced is not None and replaced.created_by == OTHER_MEMBER


async def test_two_members_saving_the_same_new_name_at_once_never_overwrite_each_other(
    backend: Backend, post: Post
) -> None:
    # GIVEN a DJ role neither member has, and something queued
    await save(backend.store, settings=GuildSettings(dj_role_id=DJ_ROLE), queue=(track(7),))
    for round_ in range(3):
        name = f"race {round_}"
        mine = as_member(
            command("playlist", subcommand="save", name=name), roles=[MEMBER_ROLE], permissions="0"
        )
        theirs = copy.deepcopy(mine)
        theirs["id"] = f"13000000000000077{round_}0"
        theirs["member"]["user"]["id"] = OTHER_MEMBER
        # WHEN both save the same new name at the same moment
        answers = await asyncio.gather(post(mine), post(theirs))
        texts = sorted((ephemeral_text(answer) for answer in answers), key=len)
        # THEN one saved it and the other is told whose it is: nobody replaced it unasked
        stored = await backend.store.get_playlist(GUILD, name)
        assert stored is not None
        assert texts[0] == f"Saved the playlist “{name}” (1 track).", texts
        assert texts[1] == (
            f"“{name}” was saved by <@{stored.created_by}>: only they, a DJ or a server manager "
            "can replace it. Pick another name."
        ), texts


# -- /playlist load and /play playlist:<name> ------------------------------------------------


async def test_load_checks_the_playlist_and_queues_a_load_job(
    backend: Backend, post: Post, door: Door
) -> None:
    await save_playlist(backend.store, "Road trip", 3)
    loaded = await post(command("playlist", subcommand="load", name="road TRIP"))
    assert loaded.body == {"type": 5}
    by_play = await post(command("play", query="playlist:Road trip"))
    assert by_play.body == {"type": 5}
    jobs = await door.jobs()
    assert [(type(j), getattr(j, "name", None)) for j in jobs] == [
        (PlaylistLoadJob, "Road trip"),
        (PlaylistLoadJob, "Road trip"),
    ]


async def test_load_refusals(backend: Backend, post: Post, door: Door) -> None:
    await save_playlist(backend.store, "hollow", 0)
    missing = "There's no playlist called “nope”. See /playlist list."
    assert ephemeral_text(await post(command("playlist", subcommand="load", name="nope"))) == (
        missing
    )
    assert ephemeral_text(await post(command("play", query="playlist: nope"))) == missing
    assert ephemeral_text(await post(command("playlist", subcommand="load", name="hollow"))) == (
        "The playlist “hollow” has no tracks."
    )
    assert ephemeral_text(await post(command("play", query="playlist:"))) == (
        "Give the playlist's name (up to 100 characters)."
    )
    assert await door.jobs() == []


# -- /play autocomplete ----------------------------------------------------------------------


async def test_autocomplete_offers_recent_tracks_and_playlists(
    backend: Backend, post: Post
) -> None:
    # GIVEN a history (oldest first) and two playlists
    await save(backend.store, history=(track(1), track(2), track(12), track(2)))
    await save_playlist(backend.store, "Songs for 2", 1)
    await save_playlist(backend.store, "chill", 1)
    # WHEN typing "2"
    answer = await post(autocomplete("2"))
    # THEN the echo, the matching recent tracks newest first (once each), then playlists
    assert answer.body["type"] == 8
    assert answer.body["data"]["choices"] == [
        {"name": "2", "value": "2"},
        {"name": "Recent: Song 2 (3:20)", "value": "https://media.example/2"},
        {"name": "Recent: Song 12 (3:20)", "value": "https://media.example/12"},
        {"name": "Playlist: Songs for 2", "value": "playlist:Songs for 2"},
    ]


async def test_autocomplete_of_playlist_prefix_offers_only_playlists(
    backend: Backend, post: Post
) -> None:
    await save(backend.store, history=(track(1),))
    await save_playlist(backend.store, "Road trip", 1)
    await save_playlist(backend.store, "Song road", 1)
    answer = await post(autocomplete("playlist: ROAD"))
    assert answer.body["data"]["choices"] == [
        {"name": "Playlist: Road trip", "value": "playlist:Road trip"},
        {"name": "Playlist: Song road", "value": "playlist:Song road"},
    ]


async def test_autocomplete_stays_within_discords_limits(backend: Backend, post: Post) -> None:
    await save(backend.store, history=tuple(track(n) for n in range(1, 60)))
    for n in range(15):
        # "playlist:" + the name is 99 or 100 characters: a value Discord still takes, under a
        # name ("Playlist: …") that has to be cut.
        await save_playlist(backend.store, f"Song list {n} " + "x" * 78, 1)
    answer = await post(autocomplete("song"))
    choices = answer.body["data"]["choices"]
    assert len(choices) == 25
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
    assert any(len(c["value"]) == 100 for c in choices)
    assert sum(c["value"].startswith("playlist:") for c in choices) == 12


async def test_autocomplete_never_offers_a_value_past_100_characters(
    backend: Backend, post: Post
) -> None:
    # GIVEN a recent track whose link is 120 characters long, another with a short link,
    # and playlists whose "playlist:<name>" value is 101 and 100 characters long
    long_link = track(7).model_copy(
        update={"webpage_url": "https://media.example/" + "7" * 98, "title": "Song 7 long"}
    )
    await save(backend.store, history=(track(8), long_link))
    await save_playlist(backend.store, "Song " + "x" * 87, 1)
    await save_playlist(backend.store, "Song " + "y" * 86, 1)
    # WHEN typing "song"
    answer = await post(autocomplete("song"))
    # THEN neither too-long value is offered (a cut one would play something else)
    choices = answer.body["data"]["choices"]
    assert all(len(c["value"]) <= 100 and len(c["name"]) <= 100 for c in choices)
    assert [c["value"] for c in choices] == [
        "song",
        "https://media.example/8",
        "playlist:Song " + "y" * 86,
    ]


async def test_autocomplete_without_a_store_is_just_the_echo(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN a state table on an endpoint nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    door = await make_door(
        state_table="state", aws_endpoint_url=f"http://127.0.0.1:{port}", store_timeout_s=0.3
    )
    body = encode(autocomplete("never gonna"))
    answer: Answer = await door.post(body, signer.headers(body))
    assert answer.body == {
        "type": 8,
        "data": {"choices": [{"name": "never gonna", "value": "never gonna"}]},
    }


# -- waking a worker from zero ---------------------------------------------------------------


async def test_search_and_load_wake_the_workers_like_play(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    # GIVEN no worker alive and a saved playlist
    state = DynamoDbStateStore(
        fleet["state_table"], region=moto_server.region, endpoint_url=moto_server.endpoint_url
    )
    await state.save_playlist(
        Playlist(guild_id=GUILD, name="mix", tracks=(track(1),), created_by=REQUESTER)
    )
    await state.aclose()
    door = await make_door(**fleet)

    async def send(data: dict[str, Any]) -> Answer:
        body = encode(data)
        return await door.post(body, signer.headers(body))

    # WHEN /search arrives THEN a worker is wanted and the searcher alone is told
    assert ephemeral_text(await send(command("search", query="never gonna"))) == RESULTS_COMING
    assert desired(moto_server, fleet) == 1
    # WHEN a playlist is loaded THEN the same public note as /play
    loaded = await send(command("playlist", subcommand="load", name="mix"))
    assert loaded.body["data"]["content"] == PLAYER_STARTING
