"""Fuzz the pure front-door functions: signature check, interaction parsing, option parsing and
job decoding. Each either answers or raises its own documented error: nothing else escapes."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from interactions.context import Interaction, MalformedInteraction, parse_interaction
from interactions.signature import SignatureVerifier
from interactions.validation import ALLOWED_SCHEMES, InvalidOption, Query, validate_query
from shared.jobs import ControlJob, MalformedJob, PlayJob, Requester, decode_job, encode_job
from tests.security.fuzzing import fuzz_settings
from tests.security.strategies import ANY_JSON, INTERACTIONS, OPTION_VALUES, SNOWFLAKE, URLS

KEY = SigningKey(b"\x11" * 32)
NOW = 1_800_000_000
VERIFIER = SignatureVerifier(KEY.verify_key.encode().hex(), max_age_s=900, clock=lambda: NOW)
HEXISH = st.text(alphabet="0123456789abcdefABCDEFxg -", max_size=130)


@fuzz_settings()
@given(
    signature=st.one_of(st.none(), HEXISH, st.text(), st.binary().map(bytes.hex)),
    timestamp=st.one_of(st.none(), st.text(), st.integers().map(str)),
    body=st.binary(max_size=2048),
)
def test_forged_signatures_never_pass_and_never_raise(
    signature: str | None, timestamp: str | None, body: bytes
) -> None:
    # GIVEN anything but a signature made with the application's key WHEN verified THEN refused
    assert VERIFIER.verify(signature, timestamp, body) is False


@fuzz_settings()
@given(
    body=st.binary(max_size=2048),
    offset=st.integers(min_value=-900, max_value=900),
    tamper=st.sampled_from(["none", "body", "timestamp", "signature", "other_key"]),
    position=st.integers(min_value=0),
)
def test_only_the_untouched_signed_request_passes(
    body: bytes, offset: int, tamper: str, position: int
) -> None:
    timestamp = str(NOW + offset)
    key = SigningKey(b"\x22" * 32) if tamper == "other_key" else KEY
    signature = key.sign(timestamp.encode() + body).signature.hex()
    if tamper == "body":
        body = body + b" " if not body else _flip(body, position)
    elif tamper == "timestamp":
        timestamp = str(int(timestamp) + 1)
    elif tamper == "signature":
        signature = _flip(bytes.fromhex(signature), position).hex()
    assert VERIFIER.verify(signature, timestamp, body) is (tamper == "none")


def _flip(data: bytes, position: int) -> bytes:
    index = position % len(data)
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@fuzz_settings()
@given(payload=st.one_of(ANY_JSON, INTERACTIONS))
def test_interaction_parsing_answers_or_refuses_cleanly(payload: Any) -> None:
    # WHEN any decoded JSON is parsed THEN an Interaction or MalformedInteraction, nothing else
    try:
        interaction = parse_interaction(payload)
    except MalformedInteraction:
        return
    assert isinstance(interaction, Interaction)
    assert interaction.id and interaction.application_id
    # The token is kept out of the repr and out of the fields bound to log lines.
    assert "token=" not in repr(interaction)
    assert not any("token" in key for key in interaction.log_fields())


@fuzz_settings()
@given(
    raw=st.one_of(OPTION_VALUES, URLS),
    max_length=st.integers(min_value=1, max_value=2000),
    allow_private=st.booleans(),
)
def test_query_option_is_cleaned_or_refused_with_a_message(
    raw: object, max_length: int, allow_private: bool
) -> None:
    try:
        query = validate_query(raw, max_length=max_length, allow_private=allow_private)
    except InvalidOption as exc:
        assert str(exc)  # a message the user can read
        return
    assert isinstance(query, Query)
    assert 0 < len(query.text) <= max_length
    assert query.text == query.text.strip()
    assert all(ch.isprintable() or ch == " " for ch in query.text)
    if query.is_url:
        parts = urlsplit(query.text)
        assert parts.scheme.lower() in ALLOWED_SCHEMES
        assert parts.hostname
        assert " " not in query.text
        if not allow_private:
            _assert_not_obviously_private(parts.hostname)


def _assert_not_obviously_private(host: str) -> None:
    assert host != "localhost" and not host.endswith(".localhost")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: the worker resolves and checks it before any fetch
    assert address.is_global


# Real interaction tokens are ~200 characters of base64url starting with this prefix.
OTHER_TOKEN = "aW50ZXJhY3Rpb246" + "Zm9yZ2Vk" * 20
REQUESTER = st.builds(Requester, user_id=SNOWFLAKE, display_name=st.text(max_size=100))
VALID_JOBS = st.one_of(
    st.builds(
        PlayJob,
        job_id=SNOWFLAKE,
        guild_id=SNOWFLAKE,
        channel_id=SNOWFLAKE,
        application_id=SNOWFLAKE,
        interaction_token=st.text(min_size=1, max_size=1000),
        requester=REQUESTER,
        query=st.text(min_size=1, max_size=2000),
        play_next=st.booleans(),
    ),
    st.builds(
        ControlJob,
        job_id=SNOWFLAKE,
        guild_id=SNOWFLAKE,
        channel_id=SNOWFLAKE,
        application_id=SNOWFLAKE,
        interaction_token=st.text(min_size=1, max_size=1000),
        requester=REQUESTER,
        kind=st.sampled_from(["skip", "stop", "pause", "resume", "leave"]),
    ),
)


@fuzz_settings()
@given(body=st.one_of(st.binary(max_size=512), ANY_JSON.map(json.dumps), st.text()))
def test_job_decoding_never_raises_anything_but_malformed_job(body: str | bytes) -> None:
    try:
        job = decode_job(body)
    except MalformedJob as exc:
        assert "interaction_token" not in str(exc) or "token" not in str(body)
        return
    assert isinstance(job, PlayJob | ControlJob)


@fuzz_settings()
@given(job=VALID_JOBS, mutation=ANY_JSON, field=st.sampled_from(list(PlayJob.model_fields)))
def test_jobs_round_trip_and_mutated_jobs_are_refused_cleanly(
    job: PlayJob | ControlJob, mutation: Any, field: str
) -> None:
    assert decode_job(encode_job(job)) == job
    data = json.loads(encode_job(job))
    data[field] = mutation
    try:
        decoded = decode_job(json.dumps(data))
    except MalformedJob as exc:
        # The error names fields and error types, never the values (the token among them): with
        # another token in the body it reads the same, so no token can leak into it. (Checking
        # only `token not in message` failed on a 4-letter token "type", inside "string_type".)
        if field != "interaction_token":
            data["interaction_token"] = OTHER_TOKEN
            with pytest.raises(MalformedJob) as other:
                decode_job(json.dumps(data))
            assert str(other.value) == str(exc)
        assert job.interaction_token not in str(exc) or len(job.interaction_token) < 16
        return
    assert isinstance(decoded, PlayJob | ControlJob)
