"""moto in server mode: a real HTTP server speaking the AWS protocols, for aiobotocore."""

from __future__ import annotations

import functools
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

from shared.state.dynamodb_items import table_definition, ttl_specification

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class MotoServer:
    """Where the moto server listens, plus a sync boto3 factory for test set-up and checks."""

    endpoint_url: str
    region: str = REGION

    def client(self, service: str):  # type: ignore[no-untyped-def]
        """A boto3 client against this server (set-up and assertions only)."""
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def create_fifo_queue(
        self, *, max_receives: int = 5, visibility_timeout_s: int = 30
    ) -> tuple[str, str]:
        """A jobs FIFO queue with a FIFO DLQ and redrive policy, as deployed; returns both URLs."""
        sqs = self.client("sqs")
        name = uuid.uuid4().hex[:12]
        dlq_url = sqs.create_queue(QueueName=f"dlq-{name}.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=f"jobs-{name}.fifo",
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": str(visibility_timeout_s),
                "RedrivePolicy": (
                    f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{max_receives}"}}'
                ),
            },
        )["QueueUrl"]
        return queue_url, dlq_url

    def create_worker_service(self, *, desired: int) -> tuple[str, str]:
        """A Fargate-like worker service in a new cluster, wanting ``desired`` tasks; returns
        (cluster, service)."""
        ecs = self.client("ecs")
        name = uuid.uuid4().hex[:10]
        cluster = f"musicbot-{name}"
        ecs.create_cluster(clusterName=cluster)
        task_definition = ecs.register_task_definition(
            family=f"worker-{name}",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="2048",
            containerDefinitions=[{"name": "worker", "image": "worker:test", "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=cluster,
            serviceName="workers",
            taskDefinition=task_definition,
            desiredCount=desired,
            launchType="FARGATE",
        )
        return cluster, "workers"

    def desired_count(self, cluster: str, service: str) -> int:
        """How many tasks the ECS service wants now."""
        described = self.client("ecs").describe_services(cluster=cluster, services=[service])
        return int(described["services"][0]["desiredCount"])

    def create_state_table(self) -> str:
        """A state table from the shared definition (the one deployed), TTL on; returns its name."""
        dynamodb = self.client("dynamodb")
        name = f"state-{uuid.uuid4().hex[:12]}"
        dynamodb.create_table(**table_definition(name))
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl_specification())
        return name


def _serialise_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's conditional writes atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes without a lock, and its server handles
    requests on threads, so two racing conditional writes could both succeed there.
    """
    lock = threading.RLock()

    def locked(method: Callable[..., object]) -> Callable[..., object]:
        @functools.wraps(method)
        def call(*args: object, **kwargs: object) -> object:
            with lock:
                return method(*args, **kwargs)

        return call

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


class MotoProcess:
    """A moto server bound to one port that can be stopped and started again on it.

    moto keeps its state in the process, so what was stored before a stop is there after the
    next start, as with the real services during an outage (tests/faults/test_aws_outage.py).
    """

    def __init__(self) -> None:
        self.server = MotoServer(endpoint_url=f"http://127.0.0.1:{_free_port()}")
        self._running: ThreadedMotoServer | None = None

    def start(self) -> None:
        """Serve on the port (again)."""
        port = int(self.server.endpoint_url.rsplit(":", 1)[1])
        self._running = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._running.start()

    def stop(self) -> None:
        """Stop serving; requests fail to connect until the next start."""
        if self._running is not None:
            self._running.stop()
            self._running = None


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server per session; tests isolate themselves with uniquely named resources."""
    process = MotoProcess()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _serialise_dynamodb_writes(monkeypatch)
        process.start()
        try:
            yield process.server
        finally:
            process.stop()


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so no test can ever reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
