"""/search's menu on the worker side, and the parts of the job contract and payload it uses."""

from __future__ import annotations

from typing import Any

import pytest

from interactions.context import parse_interaction
from shared.jobs import PlaylistLoadJob, Requester, SearchJob, decode_job, encode_job
from tests.fixtures_interactions import payload, spec_errors
from voice_worker.search import search_reply
from voice_worker.sources import Resolver, ResolverConfig
from voice_worker.sources.errors import InvalidQuery
from voice_worker.sources.models import TrackRef

ORIGIN: dict[str, Any] = {
    "job_id": "1187000000000000001",
    "guild_id": "1187000000000000002",
    "channel_id": "1187000000000000003",
    "application_id": "1187000000000000004",
    "interaction_token": "aW50ZXJhY3Rpb246c2VjcmV0",
    "requester": Requester(user_id="1187000000000000005"),
}
JOB = SearchJob(**ORIGIN, query="never *gonna*")
EDIT_ORIGINAL = "/webhooks/1187000000000000004/token/messages/@original"


def ref(n: int, **fields: object) -> TrackRef:
    values: dict[str, object] = {
        "title": f"Song {n}",
        "webpage_url": f"https://www.youtube.com/watch?v=video{n:05d}",
        "duration_s": 200.0 + n,
        "uploader": "Rick",
    }
    values.update(fields)
    return TrackRef.model_validate(values)


def edit_body(results: tuple[TrackRef, ...]) -> dict[str, Any]:
    """The PATCH body the reporter sends for the menu (reporting.DiscordReporter.complete)."""
    reply = search_reply(JOB, results)
    return {
        "content": reply.text,
        "allowed_mentions": {"parse": []},
        "components": list(reply.components),
    }


def test_the_menu_is_a_valid_message_edit_with_one_option_per_result() -> None:
    body = edit_body(tuple(ref(n) for n in range(1, 6)))
    assert spec_errors("PATCH", EDIT_ORIGINAL, body) == {}
    [row] = body["components"]
    [menu] = row["components"]
    assert menu["type"] == 3 and menu["custom_id"] == f"search:{JOB.job_id}"
    assert menu["min_values"] == menu["max_values"] == 1
    assert menu["options"][0] == {
        "label": "Song 1",
        "value": "https://www.youtube.com/watch?v=video00001",
        "description": "3:21 · Rick",
    }
    assert body["content"] == "Top 5 for “never \\*gonna\\*”: pick one to queue it."


def test_results_discord_cannot_take_are_left_out_and_long_text_is_cut() -> None:
    results = (
        ref(1, title="T" * 300, uploader="U" * 300, duration_s=None),
        ref(2, webpage_url="https://example.com/" + "a" * 100),  # value over 100 characters
        ref(1, title="the same link again"),
        ref(3, is_live=True, uploader=None),
    )
    body = edit_body(results)
    assert spec_errors("PATCH", EDIT_ORIGINAL, body) == {}
    options = body["components"][0]["components"][0]["options"]
    assert [o["value"][-5:] for o in options] == ["00001", "00003"]
    assert len(options[0]["label"]) == 100 and options[0]["label"].endswith("…")
    assert len(options[0]["description"]) == 100 and options[0]["description"].startswith("? · U")
    assert options[1]["description"] == "live"


def test_no_usable_result_is_a_private_answer() -> None:
    reply = search_reply(JOB, (ref(2, webpage_url="https://example.com/" + "a" * 100),))
    assert reply.ephemeral and reply.components == ()
    assert reply.text == "I found nothing to play for “never \\*gonna\\*”."


async def test_a_link_is_not_searched() -> None:
    async with Resolver(ResolverConfig()) as resolver:
        with pytest.raises(InvalidQuery) as raised:
            await resolver.search("https://example.com/song.mp3", limit=5)
    assert raised.value.user_message == "That's a link: use /play to play it."


def test_new_job_kinds_round_trip() -> None:
    load = PlaylistLoadJob(**ORIGIN, name="Road trip")
    assert decode_job(encode_job(JOB)) == JOB
    assert decode_job(encode_job(load)) == load


def test_a_select_choice_is_parsed_with_the_label_from_its_menu() -> None:
    data = payload("button")
    data["data"] = {"component_type": 3, "custom_id": "search:1", "values": ["https://a.example/1"]}
    option = {"label": "First", "value": "https://a.example/1"}
    other = {"type": 3, "custom_id": "search:2", "options": [{"label": "No", "value": "x"}]}
    menu = {"type": 3, "custom_id": "search:1", "options": [option]}
    data["message"] = {
        "components": [{"type": 1, "components": [other]}, {"type": 1, "components": [menu]}]
    }
    interaction = parse_interaction(data)
    assert interaction.values == ("https://a.example/1",)
    assert interaction.value_labels == ("First",)
    # A value the menu never offered has no label; values that are not strings are dropped.
    data["data"]["values"] = ["https://evil.example/", 7]
    forged = parse_interaction(data)
    assert forged.values == ("https://evil.example/",) and forged.value_labels == ("",)
