"""The job contract: round trip, discrimination by kind, and malformed bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.jobs import ControlJob, MalformedJob, PlayJob, Requester, decode_job, encode_job

BASE: dict[str, Any] = {
    "job_id": "1187000000000000001",
    "guild_id": "1187000000000000002",
    "channel_id": "1187000000000000003",
    "application_id": "1187000000000000004",
    "interaction_token": "aW50ZXJhY3Rpb246c2VjcmV0",
    "requester": Requester(user_id="1187000000000000005"),
}


def test_round_trip_keeps_kind_and_fields() -> None:
    job = PlayJob(**BASE, query="never gonna", play_next=True)
    decoded = decode_job(encode_job(job))
    assert isinstance(decoded, PlayJob)
    assert decoded == job
    skip = decode_job(encode_job(ControlJob(**BASE, kind="skip")))
    assert isinstance(skip, ControlJob) and skip.kind == "skip"


def test_token_stays_out_of_repr() -> None:
    job = PlayJob(**BASE, query="q")
    assert BASE["interaction_token"] not in repr(job)
    assert "interaction_token" not in job.log_fields()


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        json.dumps({"kind": "play"}),
        json.dumps({**json.loads(PlayJob(**BASE, query="q").model_dump_json()), "kind": "nuke"}),
        json.dumps(
            {**json.loads(PlayJob(**BASE, query="q").model_dump_json()), "schema_version": 99}
        ),
        json.dumps({**json.loads(PlayJob(**BASE, query="q").model_dump_json()), "guild_id": "x"}),
    ],
)
def test_malformed_bodies_raise_malformed_job_without_echoing_the_token(body: str) -> None:
    with pytest.raises(MalformedJob) as raised:
        decode_job(body)
    assert "aW50ZXJhY3Rpb24" not in str(raised.value)
