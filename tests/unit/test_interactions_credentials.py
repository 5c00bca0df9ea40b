"""Credentials for the lean AWS client: environment first, then the container endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from interactions.aws_credentials import (
    REFRESH_BEFORE_S,
    ContainerCredentials,
    CredentialsUnavailable,
    StaticCredentials,
    credential_source,
)
from interactions.aws_sigv4 import AwsCredentials
from tests.fixtures_interactions import CredentialsEndpoint

EXPIRY_S = 1893456000.0  # CredentialsEndpoint's expiry, 2030-01-01T00:00:00Z


async def test_container_credentials_are_fetched_with_the_token_and_cached(
    credentials_endpoint: CredentialsEndpoint,
) -> None:
    # GIVEN the container endpoint and its authorization token
    now = [EXPIRY_S - 3600]
    source = ContainerCredentials(
        credentials_endpoint.uri, authorization=lambda: "Bearer abc", clock=lambda: now[0]
    )
    # WHEN credentials are asked for twice
    first = await source.get()
    second = await source.get()
    # THEN one fetch, with the token, gave temporary credentials
    assert first == AwsCredentials("ASIA1", "secret", "session") and second is first
    assert len(credentials_endpoint.requests) == 1
    assert credentials_endpoint.requests[0]["request"] == "GET /v1/credentials?id=1 HTTP/1.1"
    assert credentials_endpoint.requests[0]["authorization"] == "Bearer abc"
    # WHEN their expiry comes near / THEN they are fetched again
    now[0] = EXPIRY_S - REFRESH_BEFORE_S + 1
    assert (await source.get()).access_key_id == "ASIA2"


async def test_a_failing_endpoint_keeps_unexpired_credentials(
    credentials_endpoint: CredentialsEndpoint,
) -> None:
    now = [EXPIRY_S - 3600]
    source = ContainerCredentials(credentials_endpoint.uri, clock=lambda: now[0])
    assert (await source.get()).access_key_id == "ASIA1"
    # GIVEN the endpoint failing, and the credentials due for refresh but not expired
    credentials_endpoint.status = 500
    now[0] = EXPIRY_S - 60
    assert (await source.get()).access_key_id == "ASIA1"
    # WHEN they have expired / THEN there is nothing left to sign with
    now[0] = EXPIRY_S + 1
    with pytest.raises(CredentialsUnavailable):
        await source.get()


async def test_an_unreachable_endpoint_is_credentials_unavailable() -> None:
    source = ContainerCredentials("http://127.0.0.1:9/creds")
    with pytest.raises(CredentialsUnavailable):
        await source.get()


@pytest.mark.parametrize(
    "uri",
    ["http://example.com/creds", "ftp://127.0.0.1/creds", "http://10.0.0.5/creds", "nonsense"],
)
def test_plain_http_only_to_loopback_or_the_container_hosts(uri: str) -> None:
    with pytest.raises(ValueError):
        ContainerCredentials(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:9001/creds",
        "http://localhost/creds",
        "http://169.254.170.2/v2/credentials/x",
        "http://169.254.170.23/v1/credentials",
        "https://creds.example.com/x",
    ],
)
def test_allowed_container_uris(uri: str) -> None:
    ContainerCredentials(uri)


async def test_environment_beats_the_container_endpoint(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/x",
    }
    source = credential_source(env)
    assert isinstance(source, StaticCredentials)
    assert (await source.get()).access_key_id == "AKIA"


async def test_full_uri_with_a_token_file(
    credentials_endpoint: CredentialsEndpoint, tmp_path: Path
) -> None:
    # GIVEN SnapStart-style variables: a full URI and a token file
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    source = credential_source(
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_endpoint.uri,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
    )
    assert isinstance(source, ContainerCredentials)
    assert (await source.get()).access_key_id == "ASIA1"
    assert credentials_endpoint.requests[0]["authorization"] == "file-token"


def test_no_credentials_at_all() -> None:
    assert credential_source({}) is None


def test_the_relative_uri_goes_to_the_ecs_host() -> None:
    source = credential_source({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"})
    assert isinstance(source, ContainerCredentials)
