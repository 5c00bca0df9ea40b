"""A moto server of our own that can be stopped and started again on the same port (the shared
session server must stay up for everyone else). moto keeps its state in the process, so what
was stored before the outage is there after it, as with the real services."""

from __future__ import annotations

import socket
import uuid

import boto3  # type: ignore[import-untyped]
from moto.server import ThreadedMotoServer

from shared.state.dynamodb_items import table_definition, ttl_specification

REGION = "us-east-1"


class RestartableMoto:
    """start() / stop() a moto server bound to one fixed port."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint_url)

    def create_fifo_queue(self, *, visibility_timeout_s: int, max_receives: int) -> tuple[str, str]:
        """A jobs FIFO queue with its DLQ, as deployed, with a short visibility timeout."""
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

    def create_state_table(self) -> str:
        dynamodb = self.client("dynamodb")
        name = f"state-{uuid.uuid4().hex[:12]}"
        dynamodb.create_table(**table_definition(name))
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl_specification())
        return name
