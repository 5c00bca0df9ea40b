"""The front door's ECS wake-up adapter against moto's server: desired = max(current, 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from interactions.aws_credentials import StaticCredentials
from interactions.aws_http import AwsError, AwsJsonClient
from interactions.aws_sigv4 import AwsCredentials
from interactions.wake import EcsScaler
from shared.scaling import WakeFailed, WakeResult
from tests.fixtures_aws import MotoServer

MakeWaker = Callable[[str, str], EcsScaler]


def ecs_client(moto_server: MotoServer) -> AwsJsonClient:
    """The signed JSON client the front door's bootstrap builds for ECS."""
    return AwsJsonClient(
        service="ecs",
        target_prefix="AmazonEC2ContainerServiceV20141113",
        json_version="1.1",
        region=moto_server.region,
        credentials=StaticCredentials(AwsCredentials("testing", "testing")),
        endpoint_url=moto_server.endpoint_url,
    )


@pytest.fixture
async def make_waker(moto_server: MotoServer) -> AsyncIterator[MakeWaker]:
    created: list[EcsScaler] = []

    def make(cluster: str, service: str) -> EcsScaler:
        waker = EcsScaler(ecs_client(moto_server), cluster=cluster, service=service)
        created.append(waker)
        return waker

    yield make
    for waker in created:
        await waker.aclose()


async def test_wakes_a_service_at_zero(moto_server: MotoServer, make_waker: MakeWaker) -> None:
    # GIVEN a service scaled to zero
    cluster, service = moto_server.create_worker_service(desired=0)
    waker = make_waker(cluster, service)
    # WHEN a worker is woken
    result = await waker.wake()
    # THEN one task is wanted, and a second wake changes nothing
    assert result == WakeResult(desired_before=0, desired_after=1)
    assert moto_server.desired_count(cluster, service) == 1
    assert await waker.wake() == WakeResult(1, 1)
    assert moto_server.desired_count(cluster, service) == 1


async def test_never_lowers_or_adds_to_a_running_service(
    moto_server: MotoServer, make_waker: MakeWaker
) -> None:
    cluster, service = moto_server.create_worker_service(desired=3)
    result = await make_waker(cluster, service).wake()
    assert not result.changed
    assert moto_server.desired_count(cluster, service) == 3


async def test_a_missing_service_is_a_wake_failure(
    moto_server: MotoServer, make_waker: MakeWaker
) -> None:
    cluster, _ = moto_server.create_worker_service(desired=0)
    with pytest.raises(WakeFailed):
        await make_waker(cluster, "nope").wake()


async def test_a_missing_cluster_is_an_aws_error(
    moto_server: MotoServer, make_waker: MakeWaker
) -> None:
    # WorkerWaker.after_enqueue logs it as workers.wake_failed (test_interactions_wake.py)
    with pytest.raises(AwsError, match="ClusterNotFoundException"):
        await make_waker("no-such-cluster", "workers").wake()


def test_cluster_and_service_are_required() -> None:
    with pytest.raises(ValueError, match="WORKER_CLUSTER"):
        EcsScaler(ecs_client(MotoServer("http://127.0.0.1:9")), cluster="", service="workers")
