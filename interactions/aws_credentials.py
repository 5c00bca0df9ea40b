"""Where the Lambda's AWS credentials come from: the environment, or the container endpoint.

Lambda puts static credentials in AWS_* variables; with SnapStart (and in ECS) they come from
AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI instead, temporary and refreshed before they
expire. The order is botocore's: environment first, then the container endpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from interactions.aws_http import AwsUnavailable, HttpEndpoint
from interactions.aws_sigv4 import AwsCredentials

ECS_CREDENTIALS_HOST = "169.254.170.2"
# botocore's rule: plain http only to loopback or these link-local credential endpoints.
_ALLOWED_HTTP_HOSTS = frozenset({ECS_CREDENTIALS_HOST, "169.254.170.23", "fd00:ec2::23"})
# Fetch new credentials this long before the old ones expire (botocore: 10-15 min).
REFRESH_BEFORE_S = 600.0
FETCH_TIMEOUT_S = 2.0


class CredentialsUnavailable(Exception):
    """No usable credentials (the endpoint failed and the last ones expired)."""


class CredentialSource(Protocol):
    """Gives valid credentials for the next request."""

    async def get(self) -> AwsCredentials:
        """Credentials good for at least the next request."""


class StaticCredentials:
    """Credentials that never change (environment variables)."""

    def __init__(self, credentials: AwsCredentials) -> None:
        self._credentials = credentials

    async def get(self) -> AwsCredentials:
        """The same credentials every time."""
        return self._credentials


def _check_uri(uri: str) -> None:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme != "http" or not host:
        raise ValueError("the container credentials URI must be an http(s) URL")
    if host == "localhost" or host in _ALLOWED_HTTP_HOSTS:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError("plain-http container credentials must come from loopback or ECS/EKS hosts")


class ContainerCredentials:
    """Temporary credentials from the container credentials endpoint, cached until near expiry."""

    def __init__(
        self,
        uri: str,
        *,
        authorization: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_uri(uri)
        self._uri = uri
        self._authorization = authorization
        self._clock = clock
        self._current: AwsCredentials | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> AwsCredentials:
        """Cached credentials, refreshed REFRESH_BEFORE_S before they expire."""
        if self._current is not None and self._clock() < self._expires_at - REFRESH_BEFORE_S:
            return self._current
        async with self._lock:
            now = self._clock()
            if self._current is not None and now < self._expires_at - REFRESH_BEFORE_S:
                return self._current
            try:
                async with asyncio.timeout(FETCH_TIMEOUT_S):
                    self._current, self._expires_at = await self._fetch()
            except (CredentialsUnavailable, TimeoutError):
                # The old ones still work for a while: better than failing the command.
                if self._current is not None and now < self._expires_at:
                    return self._current
                raise CredentialsUnavailable("the container credentials endpoint failed") from None
            return self._current

    async def _fetch(self) -> tuple[AwsCredentials, float]:
        parts = urlsplit(self._uri)
        endpoint = HttpEndpoint(f"{parts.scheme}://{parts.netloc}")
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        headers = f"Host: {endpoint.host_header}\r\nAccept: application/json\r\n"
        token = await asyncio.to_thread(self._authorization)  # may read a token file
        if token:
            headers += f"Authorization: {token}\r\n"
        request = f"GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()
        try:
            status, _, body = await endpoint.request(request)
        except AwsUnavailable as exc:
            raise CredentialsUnavailable(str(exc)) from None
        finally:
            await endpoint.aclose()
        if status != 200:
            raise CredentialsUnavailable(f"the credentials endpoint answered {status}")
        return parse_container_credentials(body)


def parse_container_credentials(body: bytes) -> tuple[AwsCredentials, float]:
    """(credentials, expiry in epoch seconds) from the endpoint's JSON answer."""
    try:
        data = json.loads(body)
        credentials = AwsCredentials(
            data["AccessKeyId"], data["SecretAccessKey"], data.get("Token") or None
        )
        expiry = datetime.fromisoformat(data["Expiration"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CredentialsUnavailable("the credentials endpoint answered nonsense") from None
    if not credentials.access_key_id or not credentials.secret_access_key:
        raise CredentialsUnavailable("the credentials endpoint answered empty credentials")
    return credentials, expiry


def _authorization_reader(environ: Mapping[str, str]) -> Callable[[], str | None]:
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    if token_file:
        # Re-read on every fetch: the file is rotated (EKS pod identity).
        return lambda: Path(token_file).read_text().strip() or None
    return lambda: token or None


def credential_source(environ: Mapping[str, str]) -> CredentialSource | None:
    """The environment's credentials, else the container endpoint's, else None."""
    static = AwsCredentials.from_environ(environ)
    if static is not None:
        return StaticCredentials(static)
    full_uri = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
    if relative:
        full_uri = f"http://{ECS_CREDENTIALS_HOST}{relative}"
    if not full_uri:
        return None
    return ContainerCredentials(full_uri, authorization=_authorization_reader(environ))
